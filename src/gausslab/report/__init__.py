"""The study report: data gathered from a study folder, sections, summary, charts, HTML and Markdown.

Entry point: `gausslab.report.build.build_report`.
"""
