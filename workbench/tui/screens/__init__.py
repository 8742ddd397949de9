"""One module per section of the app, plus the screens they push (editor, diff, case).

Each screen's stylesheet sits beside its module (``results.tcss`` next to ``results.py``;
``dialogs.tcss`` is the modal dialogs') and is loaded with the screen through ``CSS_PATH``,
not at start-up: the first paint parses only ``workbench.tcss`` (the frame and Prompts).
"""
