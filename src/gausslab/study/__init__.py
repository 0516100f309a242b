"""`gausslab study`: the family of runs (plan, presets, runs, record, which pictures each run gets) behind one report.

Entry point: `gausslab.study.driver.run_study`.
"""
