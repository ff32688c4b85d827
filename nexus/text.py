"""Text that clients send: one rule for every text input of the API, wherever it is checked.

Control characters (Unicode category Cc: U+0000–U+001F and U+007F–U+009F) are refused. They have no place in
names, passwords, search words or ids; NUL cannot even be stored in PostgreSQL, and the others hide text from
people reading it. Multi-line text (a bio) may hold tab, line feed and carriage return; NUL is refused there too.
"""

import re

from django.core.exceptions import ValidationError

LINE_BREAKS = "\t\n\r"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_EXCEPT_LINE_BREAKS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def plain_text(value: str, *, field: str | None = None, multiline: bool = False) -> str:
    """``value`` when it holds no control character (``multiline``: except tab, line feed and carriage return);
    otherwise a ValidationError with code ``invalid``, about ``field`` when one is named."""
    found = (_CONTROL_EXCEPT_LINE_BREAKS if multiline else _CONTROL).search(value)
    if found is None:
        return value
    error = ValidationError(
        "Control characters are not allowed here (found U+%(code)04X at position %(position)d).",
        code="invalid",
        params={"code": ord(found.group()), "position": found.start() + 1},
    )
    raise ValidationError({field: error}) if field else error
