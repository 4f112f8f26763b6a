"""Translating the dialogues: gettext PO files out to translators and back into the YAML.

Charities translate with volunteer translators in tools that speak PO files (Weblate,
Poedit, Crowdin). ``po`` writes one PO file per dialogue file and reads them back;
``spots`` finds each translatable text to the character and ``yaml_edit`` writes a
translation in without touching anything else; ``command`` is ``babyloss-bot translate``.
Which languages parents may see is ``bot.dialogue.review``; the fingerprint that makes a
translation fuzzy is ``bot.dialogue.fingerprint``; the safety net's phrase lists for other
languages are ``bot.safety.languages``.
"""
