"""isobench reports: a results file in, report.html and report.pdf out.

    from reports.render import generate
    generate("reports/out/latest", formats="html,pdf", lang="en", history_dir="reports/out")

Modules: load (read and check a results file), data (the document as pandas tables and
series), claims (the lecture's claims and their verdict rules), plots (matplotlib -> inline
SVG), history (earlier sessions: trends, regressions), i18n (English and Russian), pdf
(WeasyPrint, else headless Chromium), render (the Jinja2 template and the files).

reports/ reads results files only: of isobench it imports results/ alone (the schema and
its migrations, the statistics, the metric table and the regression rule `isobench compare`
uses), nothing from runtime/, vm/ or bench/. Errors are reports.errors.ReportError: one
line naming the file, exit code 1.
"""
