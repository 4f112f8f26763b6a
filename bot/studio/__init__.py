"""The studio: edit, check, play, draw, test and publish the dialogues from a browser.

``project`` wraps the dialogue code; ``files`` keeps every path inside the folder and every
save atomic; ``accounts`` holds the team's accounts and sessions; ``publish`` puts a clean
draft live and keeps every version; ``web`` is the aiohttp application and ``serve`` runs
it on a laptop or beside the live bot.
"""
