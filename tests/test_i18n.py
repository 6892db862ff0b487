"""English and Simplified Chinese: the catalogue is complete and current, every template's visible
text is marked, each page reads in the chosen language (Accept-Language, the switch's cookie, the
user's saved choice), and the texts of the Django-free layers and the API's error messages follow.
"""

from __future__ import annotations

import ast
import gettext
import html.parser
import json
import re
import shutil
import string
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.template.base import Lexer, TokenType
from django.utils import translation

from tasks.errors import Message, error_text, roi_for_reader, stored_error, stored_text
from tasks.models import UserPreference
from tasks.roi import normalise_roi
from tasks.services.task_fetch import task_fetch
from tasks.vas import errors as vas_errors
from tasks.vas.parsing import SERVICE_CONFIG_KEYS, STATES
from vassim.simulator import SEEDED_IDS

BASE = Path(settings.BASE_DIR)
LOCALE = BASE / "locale"
PO = LOCALE / "zh_Hans" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
TEMPLATES = BASE / "templates"
FACE = "c-face-edge"
VEHICLE = "c-vehicle-detection-edge"
SEED = SEEDED_IDS["seed"]
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9,en;q=0.5"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.9"}
CJK = re.compile(r"[\u4e00-\u9fff]")


# --------------------------------------------------------------------------- the catalogue


def _unquote(lines: list[str]) -> str:
    """The text of a PO string, possibly split over several quoted lines, escapes undone."""
    return ast.literal_eval('"' + "".join(line.strip()[1:-1] for line in lines) + '"')


def parse_po(path: Path) -> dict[tuple[str | None, str, str | None], dict]:
    """(msgctxt, msgid, msgid_plural) -> {"msgstr": [...], "fuzzy": bool}; header left out.

    A deliberately small reader (no polib): enough for files written by xgettext/msgmerge.
    """
    entries = {}
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        lines = [line for line in block.strip().splitlines() if line]
        if not lines or all(line.startswith("#~") for line in lines):
            continue
        fields: dict[str, list[str]] = {}
        current = ""
        flags = ""
        for line in lines:
            if line.startswith("#,"):
                flags += line
            elif line.startswith("#"):
                continue
            elif line.startswith('"'):
                fields[current].append(line)
            else:
                current, _, rest = line.partition(" ")
                fields[current] = [rest]
        msgid = _unquote(fields["msgid"])
        if msgid == "" and "msgctxt" not in fields:
            continue  # the header
        key = (
            _unquote(fields["msgctxt"]) if "msgctxt" in fields else None,
            msgid,
            _unquote(fields["msgid_plural"]) if "msgid_plural" in fields else None,
        )
        strings = [_unquote(v) for k, v in sorted(fields.items()) if k.startswith("msgstr")]
        entries[key] = {"msgstr": strings, "fuzzy": "fuzzy" in flags}
    return entries


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> Path:
    """``makemessages -l zh_Hans`` run on a copy of the sources and the committed locale/: the
    working tree is never written to."""
    root = tmp_path_factory.mktemp("i18n")
    for name in ("portal", "tasks", "templates", "locale"):
        shutil.copytree(BASE / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.setattr(settings, "LOCALE_PATHS", [root / "locale"])
        call_command(
            "makemessages", locale=["zh_Hans"], no_obsolete=True, verbosity=0, domain="django"
        )
    return root / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def test_the_committed_catalogue_has_every_marked_string(extracted):
    current, committed = parse_po(extracted), parse_po(PO)
    missing = sorted(set(current) - set(committed), key=str)
    obsolete = sorted(set(committed) - set(current), key=str)
    assert not missing, f"run makemessages -l zh_Hans and translate: {missing}"
    assert not obsolete, f"run makemessages -l zh_Hans --no-obsolete: {obsolete}"


def test_every_entry_is_translated_and_none_is_fuzzy():
    entries = parse_po(PO)
    assert len(entries) > 400
    untranslated = [key for key, e in entries.items() if not all(s.strip() for s in e["msgstr"])]
    fuzzy = [key for key, e in entries.items() if e["fuzzy"]]
    assert untranslated == []
    assert fuzzy == []


def test_the_catalogue_passes_msgfmt_checks_of_placeholders_and_header():
    result = subprocess.run(  # noqa: S603 - a fixed command on our own file
        ["msgfmt", "--check", "-o", "/dev/null", str(PO)],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_the_compiled_catalogue_is_current(tmp_path):
    fresh = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "-o", str(fresh), str(PO)], check=True)  # noqa: S603, S607
    with MO.open("rb") as committed, fresh.open("rb") as compiled:
        assert (
            gettext.GNUTranslations(committed)._catalog
            == gettext.GNUTranslations(compiled)._catalog
        ), "run manage.py compilemessages"


def test_state_names_are_the_sdks_chinese_names():
    # docs/VAS-API.md §3.1.
    assert {state: zh for state, (_f, _m, zh) in STATES.items()} == {
        "PENDING": "等待中",
        "RECOVERING": "恢复中",
        "STARTING": "启动中",
        "UPGRADING": "升级中",
        "CREATE_FAILED": "创建失败",
        "START_FAILED": "启动失败",
        "RUNNING": "运行中",
        "STOPPING": "停止中",
        "STOPPED": "已停止",
        "ABNORMAL": "异常",
        "SUCCEEDED": "运行成功",
        "FAILED": "运行失败",
        "DELETING": "删除中",
        "FREEZING": "冻结中",
        "FROZEN": "已冻结",
    }


def test_every_state_meaning_and_config_label_is_translated():
    with translation.override("zh-hans"):
        texts = [translation.gettext(meaning) for _f, meaning, _zh in STATES.values()]
        for label, _unit, explanation in SERVICE_CONFIG_KEYS.values():
            texts += [translation.gettext(label), translation.gettext(explanation)]
    assert all(CJK.search(text) for text in texts), [t for t in texts if not CJK.search(t)]


# --------------------------------------------------------------------------- templates

#: Letters that are names, not words: the products "VCN" and "VIAS", "v" before a version
#: number, and the time zone of the times shown on hover.
NOT_WORDS = {"VCN", "VIAS", "v", "UTC"}
VISIBLE_ATTRIBUTES = {"title", "placeholder", "aria-label", "alt", "label", "value"}
SYMBOLS = set(string.punctuation + string.whitespace + string.digits) | set("←→›‹•·×…—–²★☆")


class _Text(html.parser.HTMLParser):
    """Collects text nodes and user-visible attribute values of markup (tags themselves and
    every other attribute are not text)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in VISIBLE_ATTRIBUTES and value and not (tag == "input" and name == "value"):
                self.texts.append(value)

    def handle_data(self, data):
        self.texts.append(data)


def untranslated_text(source: str) -> list[str]:
    """Literal words of a template outside {% translate %}, {% blocktranslate %}, variables and
    comments. Template tags and variables become a space."""
    markup = []
    depth = 0
    for token in Lexer(source).tokenize():
        if token.token_type == TokenType.BLOCK:
            name = token.contents.split()[0] if token.contents else ""
            if name in ("blocktranslate", "blocktrans", "comment"):
                depth += 1
            elif name in ("endblocktranslate", "endblocktrans", "endcomment"):
                depth -= 1
            markup.append(" ")
        elif token.token_type == TokenType.TEXT and depth == 0:
            markup.append(token.contents)
        else:
            markup.append(" ")
    parser = _Text()
    parser.feed("".join(markup))
    parser.close()
    words = []
    for text in parser.texts:
        for word in text.split():
            stripped = "".join(ch for ch in word if ch not in SYMBOLS)
            if stripped and stripped not in NOT_WORDS:
                words.append(word)
    return words


def test_the_template_walker_finds_literal_text():
    assert untranslated_text('<p title="Hello">{% translate "Hi" %} there</p>') == [
        "Hello",
        "there",
    ]
    assert untranslated_text("<p>{% blocktranslate %}Hi {{ x }}{% endblocktranslate %} ›</p>") == []
    assert untranslated_text('<a href="/x" class="mono">{{ name }}</a> (1) · ←') == []


@pytest.mark.parametrize(
    "template", sorted(str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*.html"))
)
def test_no_template_has_untranslated_text(template):
    assert untranslated_text((TEMPLATES / template).read_text(encoding="utf-8")) == []


# --------------------------------------------------------------------------- Django-free layers


ROI_CASES = [
    "{not json",
    "[1, 2]",
    {"polygons": [{"data": "x"}]},
    {"polygons": [7]},
    {"polygons": [{"data": [[1, 2, 3]]}]},
    {"polygons": [{"data": [[True, 1], [2, 2], [3, 3]]}]},
    {"polygons": [{"data": [["a", 1], [2, 2], [3, 3]]}]},
    {"polygons": [{"data": [[float("nan"), 1], [2, 2], [3, 3]]}]},
    {"polygons": [{"data": [[1e12, 1], [2, 2], [3, 3]]}]},
    {"polygons": [{"data": [[1, 1], [2, 2]], "name": "door"}]},
    {"lines": [{"data": [[1, 1]]}]},
    {"lines": [{"data": [[1, 1], [2, 2], [3, 3]]}]},
    {"polygons": [{"data": [[0, 0], [10, 0], [10, 10]], "name": 5, "properties": 3, "z": 1}]},
    {"polygons": [{"data": [[-5, 0], [10, 0], [10, 10]]}], "extra": 1},
    {"polygons": [{"data": [[0, 0], [10, 10], [10, 0], [0, 10]]}]},
    {"polygons": "nope"},
]


@pytest.mark.parametrize("target_roi", ROI_CASES, ids=range(len(ROI_CASES)))
def test_every_roi_problem_reads_in_chinese(target_roi):
    common = {"detection_min_size": "x", "detection_max_size": float("inf")}
    roi = normalise_roi(target_roi, common)
    assert roi["problems"]
    with translation.override("zh-hans"):
        localized = roi_for_reader(roi)["problems"]
    assert [p["code"] for p in localized] == [p["code"] for p in roi["problems"]]
    for problem in localized:
        assert CJK.search(problem["message"]), problem


def test_roi_problems_keep_the_shape_name_and_point():
    roi = normalise_roi({"polygons": [{"data": [[0, 0], [1, 1], ["a", 2]], "name": "door"}]})
    with translation.override("zh-hans"):
        message = roi_for_reader(roi)["problems"][0]["message"]
    assert message == "多边形 1 ('door')：第 3 个点的坐标不是数字，该图形未绘制。"
    with translation.override("en"):
        assert roi_for_reader(roi)["problems"][0]["message"] == (
            "Polygon 1 ('door'): point 3 has a non-numeric coordinate; shape not drawn."
        )


@pytest.mark.parametrize(
    "cls", [vas_errors.VasError, *vas_errors.VasError.by_code.values()], ids=lambda c: c.code
)
def test_upstream_errors_read_in_chinese_with_the_upstream_words_kept(cls):
    exc = cls(
        status=400,
        error_code="IVA.0004",
        error_msg="The request param is invalid.",
    )
    with translation.override("zh-hans"):
        message = error_text(exc)
    assert CJK.search(message)
    assert "IVA.0004 The request param is invalid." in message  # the upstream's, as it said
    with translation.override("en"):
        english = error_text(exc)
    assert not CJK.search(english)
    assert english.endswith(" Upstream said: IVA.0004 The request param is invalid.")


def test_a_rate_limited_upstream_says_so_and_how_long_to_wait():
    exc = vas_errors.error_for_status(429, None, retry_after=7)
    with translation.override("zh-hans"):
        assert error_text(exc) == (
            "VAS 上游服务正在对门户的请求进行流控（HTTP 429）。请等待 7 秒后重试。"
        )


def test_the_stored_connection_check_reads_in_chinese():
    connected = Message("connected", params={"count": 3, "service": "c-face-edge"}).as_dict()
    refused = stored_error(vas_errors.error_for_status(401, b'{"error_code": "APIGW.0301"}'))
    with translation.override("zh-hans"):
        assert stored_text(connected) == "连接成功：服务 c-face-edge 中有 3 个作业。"
        assert stored_text(refused).startswith("VAS 上游服务拒绝了该项目的凭证。")
        assert stored_text(refused).endswith("上游返回：APIGW.0301")


# --------------------------------------------------------------------------- pages


def _get(client, url: str, headers: dict, status: int = 200) -> str:
    response = client.get(url, **headers)
    assert response.status_code == status, (url, response.status_code)
    return response.content.decode()


def _base(project) -> str:
    return f"/projects/{project.public_id}"


def _task(project, task_id=SEED, suffix="") -> str:
    return f"{_base(project)}/services/{FACE}/tasks/{task_id}/{suffix}"


#: page -> (url, status, English strings, Chinese strings)
PAGES = {
    "projects": (
        lambda p: "/projects/",
        200,
        ["Projects", "Last connection check", "Log out"],
        ["项目", "最近一次连接检查", "退出登录", "华北-北京四", "管理员"],
    ),
    "project": (
        lambda p: _base(p) + "/",
        200,
        ["Test connection", "Recently fetched", "Browse c-face-edge tasks", "Task id"],
        ["测试连接", "最近获取", "浏览 c-face-edge 作业", "作业 ID", "访问密钥 (AK)", "30 秒"],
    ),
    "edit": (
        lambda p: _base(p) + "/edit/",
        200,
        ["Credentials", "Secret key (SK)", "Delete project"],
        ["凭证", "秘密访问密钥 (SK)", "删除项目", "区域", "已保存。留空则保持不变。"],
    ),
    "members": (
        lambda p: _base(p) + "/members/",
        200,
        ["Add a member", "Viewer"],
        ["添加成员", "只读成员", "管理员"],
    ),
    "task": (
        lambda p: _task(p, SEEDED_IDS["A"]),
        200,
        ["Service configuration", "Largest detected target", "Region of interest", ">RUNNING<"],
        [
            "服务配置",
            "最大检测目标",
            "大于此尺寸的目标将被忽略。",
            "感兴趣区域 (ROI)",
            "运行中",
            "正在运行。",
            "边缘人脸提取",  # the upstream's own service_title.zh
            "刚刚从 VAS 上游获取。",
            "假定画面为 1920×1080",
        ],
    ),
    "browse": (
        lambda p: f"{_base(p)}/services/{FACE}/tasks/",
        200,
        ["Tasks of", "Name contains", "any state"],
        ["的作业", "名称包含", "全部状态", "运行中 (RUNNING)", "筛选"],
    ),
    "history": (
        lambda p: _task(p, suffix="history/"),
        200,
        ["History of", "Version #1", "The first version the portal saw."],
        ["的历史", "版本 #1", "这是门户看到的第一个版本。", "首次出现"],
    ),
    "tokens": (
        lambda p: "/account/tokens/",
        200,
        ["API tokens", "Create a token", "30 days"],
        ["API 令牌", "创建令牌", "30 天", "有效期"],
    ),
    "error": (
        lambda p: _task(p, "ffffffffffffffffffffffffffffffff"),
        404,
        ["Task not found", "What to do:"],
        ["未找到作业", "处理建议：", "VAS 上游服务中没有这个作业。"],
    ),
    "404": (
        lambda p: "/no-such-page/",
        404,
        ["Page not found"],
        ["页面不存在", "返回我的项目"],
    ),
}


@pytest.fixture
def tasks_seen(sim_project):
    task_fetch(project=sim_project, service=FACE, task_id=SEED)  # the history has a version
    return sim_project


@pytest.mark.django_db
@pytest.mark.integration
@pytest.mark.parametrize("page", PAGES)
def test_each_page_follows_accept_language(client, alice, tasks_seen, page):
    url, status, english, chinese = PAGES[page]
    client.force_login(alice)
    zh = _get(client, url(tasks_seen), ZH, status)
    assert '<html lang="zh-hans">' in zh
    for text in chinese:
        assert text in zh, text
    for text in english:
        assert text not in zh, text
    en = _get(client, url(tasks_seen), EN, status)
    assert '<html lang="en">' in en
    for text in english:
        assert text in en, text
    if page not in ("project", "task", "browse", "history"):
        # (Task pages have Chinese of their own: state badges' titles name the Chinese state,
        # the upstream's service_title.zh is in the raw JSON.)
        assert not CJK.search(en.replace("简体中文", "")), page


@pytest.mark.django_db
@pytest.mark.parametrize("language, text", [("zh-hans", "登录"), ("en", "Log in")])
def test_the_login_page_follows_the_language_cookie(client, language, text):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    html = _get(client, "/accounts/login/", ZH if language == "en" else EN)
    assert f"<h1>{text}</h1>" in html
    assert "用户名" in html if language == "zh-hans" else "Username" in html


@pytest.mark.django_db
def test_the_500_page_is_translated(rf):
    from portal.views import server_error

    with translation.override("zh-hans"):
        request = rf.get("/projects/")
        html = server_error(request).content.decode()
    assert '<html lang="zh-hans">' in html and "服务端出错了" in html


@pytest.mark.django_db
@pytest.mark.integration
def test_a_stale_copy_and_the_refresh_message_read_in_chinese(client, alice, tasks_seen, simulator):
    simulator.set_fault(SEED, "503")
    client.force_login(alice)
    html = _get(client, _task(tasks_seen) + "?refresh=1", ZH)
    assert "过期副本" in html and "原因是上游出错" in html
    # The stale copy's reason as the client said it (a 503 after retries), in Chinese.
    assert "VAS 上游服务处理失败（HTTP 503），重试后仍未成功。请稍后再试。" in html
    response = client.post(_task(tasks_seen), **ZH, follow=True)
    assert "显示门户最近一次获取的副本" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.integration
def test_a_malformed_roi_is_explained_in_chinese(client, bob, sim_project):
    client.force_login(bob)
    html = _get(client, _task(sim_project, SEEDED_IDS["roi-malformed"]), ZH)
    assert "target_roi 不是有效的 JSON" in html
    assert "该作业的 target_roi 存在以下问题：" in html


@pytest.mark.django_db
@pytest.mark.integration
def test_the_canvas_gets_its_words_in_the_pages_language(client, bob, sim_project):
    client.force_login(bob)
    url = _task(sim_project, SEEDED_IDS["roi-lines-only"]).replace(FACE, VEHICLE)
    html = _get(client, url, ZH)
    assert re.search(r'aria-label="感兴趣区域 \(ROI\)，假定画面为 \d+×\d+：', html)
    strings = re.search(r'<script id="roi-strings" type="application/json">(.*?)</script>', html)
    words = json.loads(strings.group(1))
    assert words["approach"] == "靠近线" and words["whole_frame"] == "整个画面"


@pytest.mark.django_db
def test_form_errors_read_in_chinese(client, alice, project):
    client.force_login(alice)
    response = client.post(
        f"{_base(project)}/edit/",
        {
            "name": project.name,
            "region": "cn-north-4",
            "upstream_project_id": "x y",
            "default_service": FACE,
            "cache_ttl": 30,
            "auth_type": "aksk",
            "endpoint": "http://example.com/path",
        },
        **ZH,
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "项目 ID 由 1–64 个字母、数字或连字符组成" in html
    assert "终端节点" in html


# --------------------------------------------------------------------------- the switch


@pytest.mark.django_db
def test_the_switch_sets_the_cookie_and_saves_the_users_choice(client, alice):
    client.force_login(alice)
    assert 'value="zh-hans"' in _get(client, "/projects/", EN)  # offered in the top bar
    response = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/projects/"}, **EN)
    assert response.status_code == 302 and response["Location"] == "/projects/"
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    assert UserPreference.objects.get(user=alice).language == "zh-hans"
    html = _get(client, "/account/tokens/", EN)  # the cookie beats Accept-Language
    assert "创建令牌" in html and 'value="en"' in html


@pytest.mark.django_db
def test_the_saved_choice_applies_on_a_visit_without_the_cookie(client, alice):
    UserPreference.objects.create(user=alice, language="zh-hans")
    client.force_login(alice)
    response = client.get("/projects/", **EN)
    assert "退出登录" in response.content.decode()
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"


@pytest.mark.django_db
def test_anonymous_visitors_switch_with_the_cookie_only(client):
    response = client.post(
        "/i18n/setlang/", {"language": "zh-hans", "next": "/accounts/login/"}, **EN
    )
    assert response.status_code == 302
    assert "<h1>登录</h1>" in _get(client, "/accounts/login/", EN)
    assert not UserPreference.objects.exists()


@pytest.mark.django_db
def test_an_unknown_language_changes_nothing(client, alice):
    client.force_login(alice)
    client.post("/i18n/setlang/", {"language": "xx", "next": "/projects/"})
    assert not UserPreference.objects.exists()
    assert settings.LANGUAGE_COOKIE_NAME not in client.cookies


# --------------------------------------------------------------------------- the API


@pytest.mark.django_db
def test_api_messages_follow_accept_language_and_codes_do_not(client, alice, project):
    anonymous = client.get("/api/v1/projects/", **ZH).json()["error"]
    assert anonymous["code"] == "not_authenticated" and CJK.search(anonymous["message"])
    client.force_login(alice)
    url = "/api/v1/projects/00000000-0000-0000-0000-000000000000/"
    zh = client.get(url, **ZH).json()["error"]
    en = client.get(url, **EN).json()["error"]
    assert zh["code"] == en["code"] == "not_found"
    assert zh["message"] == "没有这个项目。" and en["message"] == "No such project."
    bad = f"/api/v1/projects/{project.public_id}/services/{FACE}/tasks/bad!id/"
    zh, en = client.get(bad, **ZH).json()["error"], client.get(bad, **EN).json()["error"]
    assert zh["code"] == en["code"]
    assert CJK.search(zh["message"]) and not CJK.search(en["message"])


@pytest.mark.django_db
@pytest.mark.integration
def test_api_upstream_errors_are_chinese_and_keep_the_upstream_object(client, alice, sim_project):
    client.force_login(alice)
    url = f"/api/v1/projects/{sim_project.public_id}/services/{FACE}/tasks/{'f' * 32}/"
    zh = client.get(url, **ZH).json()["error"]
    en = client.get(url, **EN).json()["error"]
    assert zh["code"] == en["code"] == "task_not_found"
    assert zh["message"].startswith("VAS 上游服务中没有这个作业。")
    assert en["message"].startswith("The VAS upstream has no such task.")
    assert zh["upstream"] == en["upstream"]  # what the upstream said is never translated
