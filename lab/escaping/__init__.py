"""One escaping module per output format: students' names, files and output are hostile text.

Every writer of a report sends each text that could hold a student's bytes (folder names, what a
program printed, a check's detail or hint quoting it) through its format's module here, never an
ad-hoc replace:

* ``text``: any str or bytes to readable Unicode (invalid UTF-8 and lone surrogates replaced,
  control characters dropped), the base of every other format and of the terminal;
* ``markdown``: inline text, table cells, code spans and fenced blocks that render as text;
* ``xml_text``: text an XML 1.0 parser accepts (JUnit, SVG);
* ``html_text``: text and attribute values for the HTML pages;
* ``spreadsheet``: CSV cells a spreadsheet never reads as a formula.
"""
