"""Screenshots of a web UI through headless Chromium's DevTools protocol (no extra packages:
aiohttp comes with MLflow). Used by ``benchmarks/screenshots.sh`` for the docs' figures.

    python benchmarks/screenshot_ui.py OUT.png URL [--storage JSON] [--js JS] [--wait S]

``--storage`` is a JSON object of localStorage items set on the page's origin before the
page is loaded again (e.g. the MLflow runs table's columns); ``--js`` runs after loading.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import subprocess
import time
import urllib.request
from pathlib import Path

import aiohttp

PORT = 9333


async def cdp(ws: aiohttp.ClientWebSocketResponse, method: str, counter: list[int],
              **params: object) -> dict:
    counter[0] += 1
    await ws.send_str(json.dumps({"id": counter[0], "method": method, "params": params}))
    while True:
        message = json.loads((await ws.receive()).data)
        if message.get("id") == counter[0]:
            return dict(message.get("result", {}))


async def shoot(out: Path, url: str, storage: dict[str, str], js: str, wait: float) -> None:
    targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{PORT}/json").read())
    page = next(t for t in targets if t["type"] == "page")
    counter = [0]
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            await cdp(ws, "Page.navigate", counter, url=url)
            await asyncio.sleep(wait)
            if storage:
                script = "".join(f"localStorage.setItem({json.dumps(k)}, {json.dumps(v)});"
                                 for k, v in storage.items())
                await cdp(ws, "Runtime.evaluate", counter, expression=script)
                await cdp(ws, "Page.reload", counter)
                await asyncio.sleep(wait)
            if js:
                result = await cdp(ws, "Runtime.evaluate", counter, expression=js,
                                   returnByValue=True, awaitPromise=True)
                print(json.dumps(result.get("result", {}).get("value")))
                await asyncio.sleep(wait / 2)
            shot = await cdp(ws, "Page.captureScreenshot", counter, format="png")
            out.write_bytes(base64.b64decode(shot["data"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("url")
    parser.add_argument("--storage", default="{}")
    parser.add_argument("--js", default="")
    parser.add_argument("--wait", type=float, default=8.0)
    parser.add_argument("--size", default="1400,900")
    args = parser.parse_args()
    browser = subprocess.Popen(
        ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--disable-dev-shm-usage", f"--window-size={args.size}",
         f"--remote-debugging-port={PORT}", f"--user-data-dir=/tmp/pitot-shot-profile-{PORT}",
         "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(60):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{PORT}/json/version")
                break
            except OSError:
                time.sleep(0.5)
        asyncio.run(shoot(args.out, args.url, json.loads(args.storage), args.js, args.wait))
    finally:
        browser.terminate()
        browser.wait()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
