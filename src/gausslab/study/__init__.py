"""`gausslab study`: the family of runs (plan, presets, runs, record, figures) behind one report.

Entry point: `gausslab.study.driver.run_study`.
"""
