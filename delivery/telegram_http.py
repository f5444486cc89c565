"""How the bot talks HTTP to the Bot API: python-telegram-bot's request interface on aiohttp.

PTB's default transport is httpx. Measured under load (bench/load.py) each Bot API call cost the
bot about a millisecond of CPU in httpx, httpcore, h11 and anyio; aiohttp, which the notebook
already carries for its web server, makes the same call for a fraction of that. Semantics stay
PTB's: the same timeouts (read, write, connect, pool), `TimedOut` and `NetworkError` for the
failures PTB retries or reports, proxies from HTTPS_PROXY/ALL_PROXY (NO_PROXY respected), multipart
uploads. The environment is read once per host, not on every request as aiohttp's `trust_env`
does (it reads ~/.netrc in a thread for each call). A call without files goes as one JSON body
(the Bot API takes JSON as well as forms), not as PTB's form of JSON-encoded fields.

aiohttp has no separate write timeout; a request is bounded by the sum of its timeouts instead,
which is the longest PTB's own settings would let it take.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

# python-telegram-bot's internals the delivery package needs (its request types, its "no value
# given" default) are imported here only: the transport is the one place that knows them.
from telegram._utils.defaultvalue import DEFAULT_NONE, DefaultValue
from telegram._utils.types import JSONDict, ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.ext import ExtBot
from telegram.request import BaseRequest, RequestData
from telegram.request._requestparameter import RequestParameter

from runtime import metrics

__all__ = [
    "DEFAULT_NONE",
    "AiohttpRequest",
    "JSONDict",
    "ODVInput",
    "RequestParameter",
    "call",
    "keyboard_json",
]

_JSON = {"Content-Type": "application/json"}
# Methods whose text is parsed as the bot's default parse mode (HTML) unless the call says not.
_TEXT_METHODS = frozenset({"send_message", "edit_message_text"})


async def call(bot: ExtBot[Any], method: str, params: dict[str, Any]) -> Any:
    """Make a Bot API call with JSON parameters (`reply_markup` as a dict) and return Telegram's
    answer as JSON, without turning it into python-telegram-bot's objects: the bot reads only a
    message's id from it, and parsing a whole Message costs more than the call. The method goes
    by its lower-case name (`sendmessage`): Telegram's methods are case-insensitive, and
    python-telegram-bot lets it through without pointing at its own method. Its rate limiter and
    errors (RetryAfter, Forbidden, BadRequest…) apply as for any call; so does the default parse
    mode, unless `params` say otherwise."""
    if method in _TEXT_METHODS and "parse_mode" not in params:
        params = {**params, "parse_mode": bot.defaults.parse_mode if bot.defaults else None}
    return await bot.do_api_request(method.replace("_", ""), api_kwargs=params)


# An inline button's fields that are plain JSON values, and those that are objects.
_PLAIN_BUTTON_FIELDS = (
    "callback_data",
    "url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "pay",
    "icon_custom_emoji_id",
    "style",
)
_OBJECT_BUTTON_FIELDS = (
    "login_url",
    "callback_game",
    "web_app",
    "switch_inline_query_chosen_chat",
    "copy_text",
)
# Only while python-telegram-bot's button has no field unknown here (a later version may add
# one): then every button goes through its own `to_dict`.
_BUTTONS_KNOWN = set(InlineKeyboardButton.__slots__) <= {
    "text",
    *_PLAIN_BUTTON_FIELDS,
    *_OBJECT_BUTTON_FIELDS,
}


def keyboard_json(markup: InlineKeyboardMarkup) -> dict[str, Any]:
    """An inline keyboard as the Bot API's JSON, the same as `markup.to_dict()`. The generic
    `to_dict` costs about 5 µs a button, as much as making the button; a card or a question
    has up to a dozen, and every update sends one."""
    if not markup.inline_keyboard:
        return markup.to_dict()  # python-telegram-bot leaves the empty list out
    return {"inline_keyboard": [[_button_json(b) for b in row] for row in markup.inline_keyboard]}


def _button_json(button: InlineKeyboardButton) -> dict[str, Any]:
    if (
        not _BUTTONS_KNOWN
        or button.api_kwargs
        or not isinstance(button.callback_data, str | None)
        or any(getattr(button, name) is not None for name in _OBJECT_BUTTON_FIELDS)
    ):
        return button.to_dict()
    fields: dict[str, Any] = {"text": button.text}
    for name in _PLAIN_BUTTON_FIELDS:
        value = getattr(button, name)
        if value is not None:
            fields[name] = value
    return fields


class AiohttpRequest(BaseRequest):
    """A `BaseRequest` on one `aiohttp.ClientSession`, opened by `initialize`."""

    __slots__ = (
        "_connect_timeout",
        "_media_write_timeout",
        "_pool_size",
        "_pool_timeout",
        "_proxies",
        "_read_timeout",
        "_session",
        "_write_timeout",
    )

    def __init__(
        self,
        *,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[str, str | None] = {}  # "scheme://host" -> proxy URL or None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                headers={"User-Agent": self.USER_AGENT},
            )
            self._proxies.clear()

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data else None
        read = self._read_timeout if isinstance(read_timeout, DefaultValue) else read_timeout
        write = (
            (self._media_write_timeout if files else self._write_timeout)
            if isinstance(write_timeout, DefaultValue)
            else write_timeout
        )
        connect = (
            self._connect_timeout if isinstance(connect_timeout, DefaultValue) else connect_timeout
        )
        pool = self._pool_timeout if isinstance(pool_timeout, DefaultValue) else pool_timeout
        parts = (read, write, connect, pool)
        timeout = aiohttp.ClientTimeout(
            total=None if None in parts else sum(p for p in parts if p is not None),
            connect=None if pool is None or connect is None else pool + connect,
            sock_connect=connect,
            sock_read=read,
        )
        body: aiohttp.FormData | bytes | None = None
        headers = None
        if files and request_data is not None:
            # unquoted, as httpx sends them: Telegram shows "导出.csv", not "%E5%AF%BC….csv"
            body = aiohttp.FormData(quote_fields=False)
            for name, value in request_data.json_parameters.items():
                body.add_field(name, value)
            for name, (filename, content, mimetype) in files.items():
                body.add_field(name, content, filename=filename, content_type=mimetype)
        elif request_data is not None and (fields := request_data.parameters):
            # One JSON document, which the Bot API accepts as well as a form: cheaper to build
            # than a form of JSON-encoded fields, URL-quoted (a long text is mostly quoting).
            body, headers = json.dumps(fields, ensure_ascii=False).encode(), _JSON
        try:
            async with self._session.request(
                method,
                url,
                data=body,
                headers=headers,
                timeout=timeout,
                proxy=self._proxy_for(url),
            ) as response:
                if response.status >= 400:
                    metrics.BOT_API_ERRORS.labels(code=str(response.status)).inc()
                return response.status, await response.read()
        except TimeoutError as err:  # aiohttp's timeouts are TimeoutErrors too
            metrics.BOT_API_ERRORS.labels(code="network").inc()
            raise TimedOut from err
        except aiohttp.ClientError as err:
            metrics.BOT_API_ERRORS.labels(code="network").inc()
            raise NetworkError(f"aiohttp.{err.__class__.__name__}: {err}") from err

    def _proxy_for(self, url: str) -> str | None:
        """The proxy the environment names for this URL's scheme (or ALL_PROXY), unless
        NO_PROXY covers its host; as httpx would choose it."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._proxies:
            env = urllib.request.getproxies_environment()
            proxy = env.get(parts.scheme) or env.get("all")
            if proxy and urllib.request.proxy_bypass(parts.hostname or ""):  # NO_PROXY
                proxy = None
            self._proxies[origin] = proxy or None
        return self._proxies[origin]
