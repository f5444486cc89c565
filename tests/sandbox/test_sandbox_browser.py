"""The sandbox page in a real browser: headless Chromium (Debian's `chromium` package) driven by
Playwright's Python package with the system browser; nothing here downloads a browser.

Without Chromium (or the playwright package) this test skips and says why, except in CI
(CI=true), where a missing browser is a failure. Screenshots go to test-artifacts/sandbox/.

`SandboxPage` is how a person uses the page (pick who you are, open a chat, type, tap, jump
the clock); scenarios read as what people do. When the resident and staff sides are merged, the
full story is one more scenario with these same steps: 老许 reports, 王网格 takes the card in the
staff group and replies, 老许 sees the reply.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from telegram import ReplyKeyboardMarkup

from emulator.media import tiny_png
from sandbox.runtime import Sandbox
from sandbox.web import start_web
from storage.db import Database
from tests.factories import bot_errors
from tests.sandbox_support import ID, sandbox_on

if TYPE_CHECKING:
    from playwright.async_api import Browser, Locator, Page

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "sandbox"
CHROMIUM = Path(os.environ.get("SANDBOX_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
WAIT_MS = 15_000


def _browser_missing() -> str | None:
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install -e '.[dev]')"
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium chromium-driver)"
    return None


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    missing = _browser_missing()
    if missing is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the browser test must run in CI: {missing}")
        pytest.skip(f"browser test skipped: {missing}")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def sandbox(db: Database) -> AsyncIterator[Sandbox]:
    async with sandbox_on(db) as running:
        yield running


class SandboxPage:
    """The page as a person uses it."""

    def __init__(self, page: Page, shots: Path) -> None:
        self.page = page
        self.shots = shots
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    async def open(self, url: str) -> None:
        await self.page.goto(url)
        await self.page.wait_for_selector("body[data-connected]", timeout=WAIT_MS)

    async def be(self, name: str) -> None:
        """Choose who you are in the picker (the option's label starts with the name)."""
        option = self.page.locator("#identity option").filter(has_text=name).first
        await option.wait_for(state="attached", timeout=WAIT_MS)
        value = await option.get_attribute("value")
        assert value is not None
        await self.page.select_option("#identity", value)
        await self.expect_chat_title("社区民情本")

    async def open_chat(self, title: str) -> None:
        await self.page.locator(".chat-item").filter(has_text=title).click()
        await self.expect_chat_title(title)

    async def expect_chat_title(self, title: str) -> None:
        from playwright.async_api import expect

        await expect(self.page.locator("#chat-title")).to_have_text(title, timeout=WAIT_MS)

    async def send(self, text: str) -> None:
        await self.page.fill("#text", text)
        await self.page.press("#text", "Enter")
        await self.expect_mine(text.split("\n")[0])

    def messages(self, text: str, *, from_bot: bool) -> Locator:
        kind = ".msg.bot" if from_bot else ".msg.out"
        return self.page.locator(kind).filter(has_text=text)

    async def expect_bot(self, text: str) -> Locator:
        """The bot's latest message containing `text`, once it is on the page (no reload)."""
        from playwright.async_api import expect

        found = self.messages(text, from_bot=True).last
        await expect(found).to_be_visible(timeout=WAIT_MS)
        return found

    async def expect_mine(self, text: str) -> Locator:
        from playwright.async_api import expect

        found = self.messages(text, from_bot=False).last
        await expect(found).to_be_visible(timeout=WAIT_MS)
        return found

    async def press(self, message: Locator, button: str) -> None:
        keyboard = message.locator(".inline-keyboard")
        await keyboard.get_by_role("button", name=button, exact=True).click()

    async def send_file(self, path: Path) -> None:
        await self.page.set_input_files("#file-input", str(path))

    async def jump(self, kind: str) -> None:
        from playwright.async_api import expect

        button = self.page.locator(f"button[data-jump={kind}]")
        await button.click()
        await expect(self.page.locator("#toast")).to_be_visible(timeout=WAIT_MS)
        await expect(button).to_be_enabled(timeout=WAIT_MS)

    async def shot(self, name: str) -> None:
        await self.page.screenshot(path=str(self.shots / f"{name}.png"))


PHONE = {"width": 390, "height": 844}  # a phone held upright (CSS pixels)


async def _page(
    browser: Browser,
    sandbox: Sandbox,
    test_name: str,
    *,
    viewport: dict[str, int] | None = None,
    first_visit: bool = False,
) -> tuple[SandboxPage, Any]:
    """The page in a browser of its own. Unless `first_visit`, as someone who has been here
    before (the greeting is not in the way)."""
    runner, url = await start_web(sandbox, port=0)
    context = await browser.new_context(
        viewport=viewport or {"width": 1280, "height": 820}, locale="zh-CN"
    )
    if not first_visit:
        await context.add_init_script("localStorage.setItem('sandbox-welcomed', '1')")
    shots = ARTIFACTS / test_name
    shots.mkdir(parents=True, exist_ok=True)
    page = SandboxPage(await context.new_page(), shots)
    await page.open(url)
    return page, runner


async def test_a_resident_a_worker_and_the_secretary_use_the_page(
    browser: Browser, sandbox: Sandbox, tmp_path: Path
) -> None:
    from playwright.async_api import expect

    page, runner = await _page(browser, sandbox, "people")
    try:
        web = page.page
        await expect(web.locator("#banner")).to_contain_text("从不连接真正的 Telegram")
        assert await web.get_attribute("html", "lang") == "zh-Hans"

        # 老许, a resident: the outbox's news about his issue arrives by itself
        await page.be("老许")
        await page.expect_bot("1号问题的办理方案")
        await page.send("/help")
        help_text = await page.expect_bot("您在邢家桥社区的身份是居民")
        # what he types is shown as typed, never as markup
        typed = "<b>不是粗体</b> & <img src=x onerror=alert(1)>"
        await page.send(typed)
        mine = await page.expect_mine(typed)
        assert await mine.locator(".text").inner_text() == typed
        assert await mine.locator(".text b, .text img, .text script").count() == 0

        # /language (in the whole help, one tap away): an inline keyboard; the pressed message
        # is edited in place
        await page.press(help_text, "全部命令…")
        await expect(help_text.locator("a.command").filter(has_text="/language")).to_be_visible(
            timeout=WAIT_MS
        )
        await help_text.locator("a.command").filter(has_text="/language").click()
        await page.expect_mine("/language")
        menu = await page.expect_bot("您想用哪种语言")
        message_id = await menu.get_attribute("data-id")
        await page.press(menu, "English")
        edited = web.locator(f'.msg[data-id="{message_id}"]')
        await expect(edited).to_contain_text("I will speak English", timeout=WAIT_MS)
        await expect(edited.locator(".edited")).to_be_visible()
        await expect(edited.locator(".inline-keyboard")).to_have_count(0)
        await page.shot("01-resident-edited-in-place")

        # a photo from the file input
        photo = tmp_path / "楼道.png"
        photo.write_bytes(tiny_png(48, 32, (30, 120, 200)))
        await page.send_file(photo)
        image = web.locator(".msg.out .media img").last
        await expect(image).to_be_visible(timeout=WAIT_MS)
        assert await image.evaluate("img => img.complete && img.naturalWidth") == 48

        # a reply keyboard (no feature shows one yet: the bot sends it here directly)
        keyboard = ReplyKeyboardMarkup([["好的", "不用了"]], one_time_keyboard=True)
        await sandbox.app.bot.send_message(ID["老许"], "要帮您预约吗？", reply_markup=keyboard)
        await expect(web.locator("#keyboard")).to_be_visible(timeout=WAIT_MS)
        await web.locator("#keyboard button").filter(has_text="好的").click()
        await page.expect_mine("好的")
        await expect(web.locator("#keyboard")).to_be_hidden()

        # 王网格, a worker: the staff group, the bot answering there, and a reply to it
        await page.be("王网格")
        await page.open_chat("邢家桥社区工作群")
        await page.send("/help")
        answer = await page.expect_bot("您在邢家桥社区的身份是社区工作者")
        await answer.hover()
        await answer.locator(".reply-action").click()
        await expect(web.locator("#reply-bar")).to_contain_text("社区民情本")
        await page.send("收到")
        reply = await page.expect_mine("收到")
        await expect(reply.locator(".reply-quote")).to_contain_text("社区民情本")
        await page.shot("02-worker-in-the-staff-group")

        # the clock: an hour later his due-soon reminder arrives in his private chat
        await page.jump("hour")
        badge = web.locator(".chat-item").filter(has_text="社区民情本").locator(".badge")
        await expect(badge).to_be_visible(timeout=WAIT_MS)
        await page.open_chat("社区民情本")
        await page.expect_bot("提醒：1号问题")
        await page.shot("03-worker-reminder-after-an-hour")

        # 谢兰, the secretary: Monday 08:00 brings the weekly digest; a chart and an export
        await page.be("谢兰")
        await page.jump("digest")
        await expect(web.locator("#clock-now")).to_contain_text("08:00")
        await expect(web.locator("#clock-now")).to_contain_text("周一")
        await page.expect_bot("民情周报")
        bot = sandbox.app.bot
        await bot.send_photo(
            ID["谢兰"], tiny_png(120, 80, (200, 40, 40)), caption="<b>本周</b>图表"
        )
        await bot.send_document(ID["谢兰"], "编号,状态\n1,处理中\n".encode(), filename="导出.csv")
        chart = (await page.expect_bot("本周图表")).locator(".media img")
        await expect(chart).to_be_visible()
        assert await chart.evaluate("img => img.naturalWidth") == 120
        await expect((await page.expect_bot("本周图表")).locator(".text strong")).to_have_text(
            "本周"
        )
        export = web.locator('[data-testid="document"]').filter(has_text="导出.csv")
        async with web.expect_download() as download_info:
            await export.click()
        download = await download_info.value
        assert download.suggested_filename == "导出.csv"
        saved = tmp_path / "export.csv"
        await download.save_as(saved)
        assert saved.read_text(encoding="utf-8") == "编号,状态\n1,处理中\n"
        await page.shot("04-secretary-digest-chart-export")
        assert page.errors == []
    finally:
        await runner.cleanup()
    assert bot_errors(sandbox.emulator) == []


async def test_an_invitation_link_opens_as_a_new_visitor(
    browser: Browser, sandbox: Sandbox
) -> None:
    from playwright.async_api import expect

    page, runner = await _page(browser, sandbox, "invitation")
    try:
        web = page.page
        await page.be("谢兰")
        await page.send("/invite")
        menu = await page.expect_bot("您要邀请谁加入邢家桥社区")
        await page.press(menu, "居民")
        invitation = await page.expect_bot("https://t.me/notebook_sandbox_bot?start=")
        await invitation.locator(".text a").click()
        await expect(web.locator("#dialog")).to_be_visible()
        await web.select_option("#open-as", "new")
        await page.shot("01-open-the-link-as")
        await web.click("#dialog-ok")
        await expect(web.locator("#identity option:checked")).to_contain_text("新访客 1")
        await page.expect_bot("欢迎加入邢家桥社区")
        await expect(web.locator("#identity option:checked")).to_contain_text(
            "居民", timeout=WAIT_MS
        )
        await page.shot("02-the-visitor-joined")
        assert page.errors == []
    finally:
        await runner.cleanup()
    assert bot_errors(sandbox.emulator) == []


async def test_a_resident_reports_a_worker_claims_and_replies_the_resident_sees_it(
    browser: Browser, sandbox: Sandbox
) -> None:
    """The notebook's whole loop on the page: red pen from the resident, black pen from the
    worker in the staff group, and the reply back in the resident's chat."""
    from playwright.async_api import expect

    page, runner = await _page(browser, sandbox, "report-claim-reply")
    try:
        web = page.page
        problem = "小区花园的树枝压到电线了 <很危险> & 没人管"

        # 老许 writes in his own words; four taps later he has a number
        await page.be("老许")
        await page.send(problem)
        asked = await page.expect_bot("请问是哪方面的问题？")
        # the flow edits this one message in place: follow it by its id, not by its text
        question = web.locator(f'.msg[data-id="{await asked.get_attribute("data-id")}"]')
        await page.press(question, "绿化")
        await expect(question).to_contain_text("照片", timeout=WAIT_MS)
        await page.press(question, "不用照片")
        await expect(question).to_contain_text("危险", timeout=WAIT_MS)
        await page.press(question, "不是")
        await expect(question).to_contain_text("请核对一下您反映的问题", timeout=WAIT_MS)
        await page.press(question, "✅ 发送")
        await expect(question).to_contain_text("谢谢您！您反映的是", timeout=WAIT_MS)
        number = (await question.inner_text()).split("您反映的是")[1].split("号问题")[0]
        await page.shot("01-resident-got-a-number")

        # 王网格 sees the card in the staff group, claims it and replies to the resident
        await page.be("王网格")
        await page.open_chat("邢家桥社区工作群")
        posted = await page.expect_bot(problem)
        card = web.locator(f'.msg[data-id="{await posted.get_attribute("data-id")}"]')
        await page.press(card, "认领")
        await expect(card).to_contain_text("王网格", timeout=WAIT_MS)
        await page.press(card, "回复居民…")
        prompt = await page.expect_bot(f"请写给居民的回复（{number}号）")
        await prompt.hover()
        await prompt.locator(".reply-action").click()
        await page.send("明天上午带梯子来剪树枝，请放心")
        await page.expect_bot(f"您对{number}号的回复正在发给居民")
        await page.shot("02-worker-claimed-and-replied")

        # 老许 hears who owns it and the worker's words, as written
        await page.be("老许")
        await page.expect_bot(f"{number}号问题现在由王网格负责")
        reply = await page.expect_bot("明天上午带梯子来剪树枝，请放心")
        await expect(reply).to_contain_text(f"{number}号问题，王网格回复您")
        await page.shot("03-resident-sees-the-reply")
        assert page.errors == []
    finally:
        await runner.cleanup()


async def test_a_first_visitor_on_a_phone_is_greeted_and_the_page_fits(
    browser: Browser, sandbox: Sandbox
) -> None:
    """At a phone's width: the greeting says who to be and what to try; picking 老许 makes the
    page his phone; the chats are a row above the chat, nothing is wider than the screen; the
    greeting comes once, and "怎么玩？" brings it back."""
    from playwright.async_api import expect

    page, runner = await _page(browser, sandbox, "phone", viewport=PHONE, first_visit=True)
    try:
        web = page.page
        welcome = web.locator("#welcome")
        await expect(welcome).to_be_visible(timeout=WAIT_MS)
        await expect(welcome).to_contain_text("欢迎来到社区民情本的沙盒")
        for name, hint in (("老许", "楼道灯坏了"), ("王网格", "认领"), ("谢兰", "周报")):
            role = welcome.locator(".welcome-role").filter(has_text=name)
            await expect(role).to_contain_text(hint)
            await expect(role.get_by_role("button", name=f"当{name}")).to_be_visible()
        assert await _overflow(web) == 0
        await page.shot("01-first-visit-greeting")

        await welcome.get_by_role("button", name="当老许").click()
        await expect(welcome).to_be_hidden()
        await expect(web.locator("#identity option:checked")).to_contain_text("老许")
        await page.expect_chat_title("社区民情本")
        await page.send("/help")
        await page.expect_bot("您在邢家桥社区的身份是居民")
        chats = await web.locator("#chat-list").bounding_box()
        chat = await web.locator("#chat").bounding_box()
        assert chats is not None and chat is not None
        assert chats["y"] + chats["height"] <= chat["y"] + 1  # a row above the chat
        assert chat["width"] >= PHONE["width"] - 1  # the chat takes the whole width
        assert await _overflow(web) == 0
        await page.shot("02-phone-chat")

        await web.reload()
        await web.wait_for_selector("body[data-connected]", timeout=WAIT_MS)
        await page.expect_bot("您在邢家桥社区的身份是居民")
        await expect(welcome).to_be_hidden()  # once is enough
        await web.locator("#welcome-open").click()
        await expect(welcome).to_be_visible()
        assert page.errors == []
    finally:
        await runner.cleanup()
    assert bot_errors(sandbox.emulator) == []


async def _overflow(web: Page) -> int:
    """How many CSS pixels the page is wider than the screen (0: it fits)."""
    return int(
        await web.evaluate("Math.max(0, document.documentElement.scrollWidth - window.innerWidth)")
    )
