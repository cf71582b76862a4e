"""Where the explorer's files are.

`STATIC_DIR` holds `index.html` (the page served at `/`) and the stylesheet, scripts and
icon it loads from `/explorer/<name>`. The directory is flat: no subfolders.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

STATIC_DIR: Final = Path(__file__).resolve().with_name("static")
