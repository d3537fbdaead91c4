#!/bin/sh
# Regenerate the Firefox fixtures in this folder from a real Firefox ESR.
#
# Runs firefox-esr headless with a fresh profile inside a network namespace of
# its own (only loopback, so nothing can reach the network whatever Firefox
# tries; the user.js prefs below turn the usual callers off as well), then
# through Marionette (Firefox's own remote-control protocol, on that private
# loopback) makes DuckDuckGo the default search engine and quits cleanly, so
# Firefox writes its mozLz40 files itself.  Copies:
#   fresh/search.json.mozlz4      search settings as first written (no engine chosen: the app's default)
#   ddg/search.json.mozlz4        search settings after choosing DuckDuckGo
#   addonStartup.json.lz4         the add-on manager's startup data
#   sessionstore.jsonlz4          the session written at a clean quit
#   firefox-version.txt           the Firefox that wrote them
#
# Needs: firefox-esr (apt-get install --no-install-recommends firefox-esr),
# python3, unshare (util-linux) and ip (iproute2).  As a non-root user the
# namespace is made with --map-root-user, which needs unprivileged user
# namespaces.  Usage: tests/data/firefox/regenerate.sh [OUTPUT_FOLDER]   (default: this folder)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
firefox=${FIREFOX:-firefox-esr}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/home" "$work/profile"

cat > "$work/profile/user.js" <<'PREFS'
// Keep a throwaway profile off the network (it also runs without one).
user_pref("marionette.port", 2828);
user_pref("app.update.auto", false);
user_pref("app.normandy.enabled", false);
user_pref("app.shield.optoutstudies.enabled", false);
user_pref("datareporting.healthreport.uploadEnabled", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("toolkit.telemetry.enabled", false);
user_pref("toolkit.telemetry.unified", false);
user_pref("browser.safebrowsing.malware.enabled", false);
user_pref("browser.safebrowsing.phishing.enabled", false);
user_pref("browser.safebrowsing.downloads.enabled", false);
user_pref("browser.search.update", false);
user_pref("extensions.update.enabled", false);
user_pref("extensions.getAddons.cache.enabled", false);
user_pref("network.captive-portal-service.enabled", false);
user_pref("network.connectivity-service.enabled", false);
user_pref("network.dns.disablePrefetch", true);
user_pref("network.prefetch-next", false);
user_pref("network.http.speculative-parallel-limit", 0);
user_pref("services.settings.server", "http://127.0.0.1:9/v1");
user_pref("network.proxy.type", 1);
user_pref("network.proxy.http", "127.0.0.1");
user_pref("network.proxy.http_port", 9);
user_pref("network.proxy.ssl", "127.0.0.1");
user_pref("network.proxy.ssl_port", 9);
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.newtabpage.enabled", false);
user_pref("browser.startup.homepage", "about:blank");
PREFS

cat > "$work/drive.py" <<'PY'
"""Marionette client (stdlib only): choose DuckDuckGo, then quit Firefox cleanly."""
import json
import socket
import sys
import time
from pathlib import Path

profile = Path(sys.argv[1])
fresh = Path(sys.argv[2])

deadline = time.monotonic() + 60
while True:
    try:
        sock = socket.create_connection(("127.0.0.1", 2828), timeout=60)
        break
    except OSError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.2)
reader = sock.makefile("rb")


def receive():
    length = b""
    while not length.endswith(b":"):
        length += reader.read(1)
    return json.loads(reader.read(int(length[:-1])))


def command(msg_id, name, params):
    body = json.dumps([0, msg_id, name, params]).encode()
    sock.sendall(str(len(body)).encode() + b":" + body)
    _, _, error, result = receive()
    if error:
        raise SystemExit(f"{name}: {error}")
    return result


receive()  # the server's hello
command(1, "WebDriver:NewSession", {})
command(2, "Marionette:SetContext", {"value": "chrome"})
search = profile / "search.json.mozlz4"
while not search.exists():  # written once the search service has started
    if time.monotonic() > deadline:
        raise SystemExit("Firefox wrote no search.json.mozlz4")
    time.sleep(0.2)
fresh.write_bytes(search.read_bytes())
chosen = command(3, "WebDriver:ExecuteAsyncScript", {"args": [], "script": """
    const resolve = arguments[arguments.length - 1];
    (async () => {
        const { SearchService: search } = ChromeUtils.importESModule(
            "moz-src:///toolkit/components/search/SearchService.sys.mjs");
        await search.init();
        await search.setDefault(search.getEngineByName("DuckDuckGo"), search.CHANGE_REASON.USER);
        return (await search.getDefault()).name;
    })().then(resolve, e => resolve("error: " + e));
"""})["value"]
if chosen != "DuckDuckGo":
    raise SystemExit(f"choosing DuckDuckGo failed: {chosen}")
command(4, "Marionette:Quit", {"flags": ["eAttemptQuit"]})
PY

if [ "$(id -u)" = 0 ]; then ns="unshare --net"; else ns="unshare --map-root-user --net"; fi
HOME="$work/home" $ns sh -c '
    set -e
    ip link set lo up
    "$1" --headless --marionette --remote-allow-system-access --no-remote --profile "$2/profile" about:blank \
        >"$2/firefox.log" 2>&1 &
    browser=$!
    python3 "$2/drive.py" "$2/profile" "$2/fresh.mozlz4" || { kill "$browser"; wait "$browser"; exit 1; }
    wait "$browser"
' sh "$firefox" "$work"

mkdir -p "$out/fresh" "$out/ddg"
cp "$work/fresh.mozlz4" "$out/fresh/search.json.mozlz4"
cp "$work/profile/search.json.mozlz4" "$out/ddg/search.json.mozlz4"
cp "$work/profile/addonStartup.json.lz4" "$out/addonStartup.json.lz4"
cp "$work/profile/sessionstore.jsonlz4" "$out/sessionstore.jsonlz4"
"$firefox" --version > "$out/firefox-version.txt"
echo "wrote the fixtures of $(cat "$out/firefox-version.txt") to $out"
