"""The study report: data gathered from a study folder, sections (with the charts they choose, drawn by
`plots.charts`), summary, HTML and Markdown.

Entry point: `gausslab.report.build.build_report`.
"""
