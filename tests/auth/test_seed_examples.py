"""The auth examples of the Nezha v0/v1, Nightingale and openITCOCKPIT documents, run as written.

Only the host and the credentials are replaced. Nezha v0's list and details examples
with live agent data are in tests/inventory/test_agent_live.py, openITCOCKPIT's
``/hosts/add.json`` example in tests/api/test_oitc_hosts.py; here their auth part runs against
``/api/v1/server/list`` and ``/profile/apikey.json``.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
import time

import httpx
import pytest
import requests

from tests.cast import Cast

NEZHA_V1_SERVER_LIST = """
import requests

base_url = "BASE_URL"
token = "JWT_TOKEN"

response = requests.get(
    f"{base_url}/api/v1/server",
    headers={"Authorization": f"Bearer {token}"},
    timeout=10,
)
response.raise_for_status()

payload = response.json()
if not payload.get("success"):
    raise RuntimeError(payload.get("error", "unknown error"))

for server in payload["data"]:
    print(server["id"], server["name"])
"""

NEZHA_V0_AUTH = """
import requests
url = "BASE_URL/api/v1/server/list"
headers = {
"Authorization": "your_token"
}
response = requests.get(url, headers=headers)
data = response.json()
"""

OITC_EXAMPLE = """
import json
import traceback
import requests
import urllib3
import re
import sys
import time

oitc_url="BASE_URL"
oitc_apikey="API_KEY"

class ApiExample():

    def run(self):
        self.oitc_url = oitc_url
        self.apikey = oitc_apikey

        result = self.send_post_request(
            url="/profile/apikey.json",
            data={
                "Apikey": {
                    "id": KEY_ID,
                    "description": 'renamed by the example',
                }
            }
        )
        print(result)

    def send_post_request(self, url, data, cookies=None):
            try:
                urllib3.disable_warnings()
            except:
                print(traceback.format_exc())

            url = self.oitc_url + url

            headers = {
                'Content-Type': 'application/json',
                'Authorization': 'X-OITC-API ' + self.apikey
            }

            try:
                response = requests.post(
                    url,
                    json=data,
                    headers=headers,
                    verify=False,
                    cookies=cookies
                )

                if response.status_code != 200:
                    print("Error while saving data :(")
                    print(response.content.decode('utf-8'))

                if response.content.decode('utf-8').strip() != '':
                    if cookies is None:
                        self.cookies = response.cookies
                    return json.loads(response.content.decode('utf-8'))

            except Exception as e:
                print(str(e))
                print(traceback.format_exc())

ApiExample().run()
"""


def _run(code: str, **replace: str) -> str:
    for placeholder, value in replace.items():
        code = code.replace(placeholder, value)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "<seed example>", "exec"), {"__name__": "seed_example"})
    return out.getvalue()


def test_nezha_v1_login_then_bearer_server_list(cast: Cast) -> None:
    # POST /api/v1/login with the JSON body of the document.
    r = requests.post(
        f"{cast.url}/api/v1/login",
        headers={"Content-Type": "application/json"},
        data=json.dumps({"username": "admin", "password": cast.alice.password}),
        timeout=10,
    )
    assert r.status_code == 200
    token = r.json()["data"]["token"]
    pushed = httpx.post(
        f"{cast.url}/opentsdb/put",
        json={"metric": "cpu_usage_idle", "timestamp": int(time.time()), "tags": {"ident": "seed-host"}, "value": 1},
        headers=cast.alice.bearer,
    )
    assert pushed.status_code == 200, pushed.text
    deadline = time.monotonic() + 20
    printed = ""
    while "seed-host" not in printed and time.monotonic() < deadline:
        printed = _run(NEZHA_V1_SERVER_LIST, BASE_URL=cast.url, JWT_TOKEN=token)
        time.sleep(0.2)
    assert "seed-host" in printed


@pytest.mark.parametrize("form", ["{token}", "Token {token}"])
def test_nezha_v0_token_header_as_the_python_example_sends_it(cast: Cast, form: str) -> None:
    code = NEZHA_V0_AUTH.replace("your_token", form.format(token=cast.bob.token))
    namespace: dict[str, object] = {}
    exec(compile(code.replace("BASE_URL", cast.url), "<seed example>", "exec"), namespace)
    assert namespace["response"].status_code == 200  # type: ignore[attr-defined]
    assert namespace["data"]["code"] == 0 and namespace["data"]["message"] == "success"  # type: ignore[index]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_nightingale_curl_profile_with_x_user_token(cast: Cast) -> None:
    r = httpx.post(
        f"{cast.url}/api/n9e/self/token", json={"token_name": "ci"}, auth=(cast.bob.username, cast.bob.password)
    )
    assert r.status_code == 200 and r.json()["err"] == ""
    token = r.json()["dat"]["token"]
    command = (
        f'curl -s -H "X-User-Token: {token}" -H "Content-Type: application/json" '
        f"'{cast.url}/api/n9e/self/profile' | python3 -m json.tool"
    )
    done = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=30, check=True)
    body = json.loads(done.stdout)
    assert body["err"] == ""
    assert set(body["dat"]) == {
        "id",
        "username",
        "nickname",
        "phone",
        "email",
        "portrait",
        "roles",
        "contacts",
        "maintainer",
        "create_at",
        "create_by",
        "update_at",
        "update_by",
        "belong",
        "admin",
        "user_groups",
        "busi_groups",
        "last_active_time",
    }
    assert body["dat"]["username"] == cast.bob.username and body["dat"]["roles"] == ["Standard"]
    assert body["dat"]["admin"] is False


def test_nightingale_token_management(cast: Cast) -> None:
    with httpx.Client(base_url=cast.url, headers={"X-User-Token": cast.charlie.token}) as n9e:
        created = n9e.post("/api/n9e/self/token", json={"token_name": "grafana"}).json()["dat"]
        assert (
            n9e.post("/api/n9e/self/token", json={"token_name": "grafana"}).json()["err"] == "token name already exists"
        )
        listed = n9e.get("/api/n9e/self/token").json()["dat"]
        entry = next(t for t in listed if t["id"] == created["id"])
        assert entry["token_name"] == "grafana" and entry["token"] != created["token"]
        assert n9e.delete(f"/api/n9e/self/token/{created['id']}").json() == {"dat": None, "err": ""}
        other = n9e.delete(f"/api/n9e/self/token/{_first_token_id(cast)}")
        assert other.status_code == 403 and other.json()["err"]


def _first_token_id(cast: Cast) -> int:
    tokens = httpx.get(f"{cast.url}/api/v1/token", headers=cast.bob.bearer).json()["data"]["value"]
    return int(tokens[0]["id"])


def test_openitcockpit_python_example_with_an_api_key(cast: Cast) -> None:
    with httpx.Client(base_url=cast.url, auth=(cast.bob.username, cast.bob.password)) as ui:
        generated = ui.get("/profile/create_apikey.json").json()
        assert len(generated["apikey"]) == 160 and generated["qr_code"].startswith("data:image/svg+xml")
        assert ui.post("/profile/create_apikey.json", json={"Apikey": {"description": "ci"}}).json() == {
            "message": "API key created successfully"
        }
        keys = ui.get("/profile/apikey.json").json()["apikeys"]
        key_id = next(k["id"] for k in keys if k["description"] == "ci")
    printed = _run(OITC_EXAMPLE, BASE_URL=cast.url, API_KEY=generated["apikey"], KEY_ID=str(key_id))
    assert "API key updated successfully" in printed and "Error" not in printed
    one = httpx.get(
        f"{cast.url}/profile/apikey.json",
        params={"id": key_id},
        headers={"Authorization": "X-OITC-API " + generated["apikey"]},
    ).json()["apikey"]
    assert one["description"] == "renamed by the example" and one["userId"] == cast.bob.id
    bad = _run(OITC_EXAMPLE, BASE_URL=cast.url, API_KEY="0" * 160, KEY_ID=str(key_id))
    assert "Error while saving data" in bad
