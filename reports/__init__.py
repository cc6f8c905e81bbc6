"""isobench reports: a results file in, report.html and report.pdf out.

    from reports.render import generate
    generate("reports/out/latest", formats="html,pdf", lang="en", history_dir="reports/out")

Modules: load (read and check a results file), data (the document as pandas tables and
series), stats (medians, bootstrap CIs, the regression rule of `isobench compare`),
claims (the lecture's claims and their verdict rules), plots (matplotlib -> inline SVG),
history (earlier sessions: trends, regressions), i18n (English and Russian), pdf
(WeasyPrint, else headless Chromium), render (the Jinja2 template and the files).

reports/ reads results files only: it imports nothing from runtime/, vm/ or bench/ (it
reads bench/results.schema.json as a file). Errors are reports.errors.ReportError: one
line naming the file, exit code 1.
"""
