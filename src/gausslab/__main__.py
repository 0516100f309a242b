from gausslab.cli import main

main()
