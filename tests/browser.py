"""A real headless browser (Debian's chromium) measuring a report page: layout numbers and a screenshot.

`measure(html, width)` loads a copy of the page with a small script appended that writes what the
browser laid out (page and table widths, displayed image sizes) into the DOM, read back with
--dump-dom. `screenshot(html, width)` returns the PNG chromium renders at that window width.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", "--hide-scrollbars"]
SCRIPT = """<script>
(() => {
  const px = (el) => el.getBoundingClientRect();
  const out = {viewport: document.documentElement.clientWidth, page: document.documentElement.scrollWidth,
               tables: [], charts: [], grids: []};
  for (const box of document.querySelectorAll("div.table")) {
    out.tables.push({right: px(box).right, inner: box.scrollWidth, outer: box.clientWidth});
  }
  for (const img of document.querySelectorAll("figure.chart img")) {
    out.charts.push({shown: px(img).width, natural: +img.getAttribute("width"), right: px(img).right});
  }
  for (const img of document.querySelectorAll("figure.grid img")) {
    out.grids.push({shown: px(img).width, natural: +img.getAttribute("width"), cell: +img.dataset.cellPx});
  }
  const pre = document.createElement("pre");
  pre.id = "measured";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>"""


def available() -> bool:
    return Path(CHROMIUM).exists() or shutil.which("chromium") is not None


def _run(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                          timeout=180, check=True)


def measure(html: str, width: int) -> dict:
    """The layout chromium computes for `html` in a window `width` pixels wide."""
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "page.html"
        page.write_text(html.replace("</body>", SCRIPT + "</body>"))
        done = _run([f"--window-size={width},900", "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
                    Path(tmp) / "profile")
    found = re.search(r'<pre id="measured">(.*?)</pre>', done.stdout.decode(), re.S)
    assert found, "chromium did not run the measuring script"
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))


def screenshot(html: str, width: int, height: int = 1600) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        page, shot = Path(tmp) / "page.html", Path(tmp) / "shot.png"
        page.write_text(html)
        _run([f"--window-size={width},{height}", f"--screenshot={shot}", page.as_uri()], Path(tmp) / "profile")
        return shot.read_bytes()
