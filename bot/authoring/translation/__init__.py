"""Translating the dialogues: gettext PO files out and back in, and who reviewed what.

Charities translate with volunteer translators in tools that speak PO files (Weblate,
Poedit, Crowdin). ``po`` writes one PO file per dialogue file and reads them back;
``yaml_edit`` writes the translations into the YAML without touching anything else;
``review`` holds the review records that decide which languages parents may see; and
``phrases`` loads the safety net's phrase list for each language.
"""
