"""The simulated LLM's state and behaviour: accounts, models, rate limits, output faults, and a
"model" that answers any JSON schema with values drawn from the product data in the prompt.

The answer is a pure function of the request (same prompt, same answer), so tests can rely on it.
For a ``json_schema`` response format it always validates against the schema it was given (and
honours the length and item limits a strict schema can only state in descriptions, as a good model
does), unless an output fault says otherwise.
"""

from __future__ import annotations

import html
import json
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..catalogue_data import CATEGORIES

DEFAULT_MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1", "gpt-5-mini")


class OutputFaults(BaseModel):
    """What goes wrong with the model's answers (HTTP-level faults come from the shared FaultConfig).
    Rates are per-completion probabilities from a generator seeded by the simulator seed."""

    model_config = ConfigDict(extra="forbid")

    invalid_json_rate: float = Field(0, ge=0, le=1, description="Chatter after the JSON: not parseable.")
    schema_violation_rate: float = Field(0, ge=0, le=1, description="Valid JSON missing a required property.")
    truncated_rate: float = Field(0, ge=0, le=1, description='Cut in half, finish_reason "length".')
    refusal_rate: float = Field(0, ge=0, le=1, description="message.refusal set, content null.")
    max_per_conversation: int | None = Field(
        None, ge=0, description="At most this many faulty answers per distinct prompt; None = no cap."
    )


class LLMSimulatorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_key: str | None = Field(None, description="The one accepted key; None = any non-empty bearer key.")
    models: tuple[str, ...] = DEFAULT_MODELS
    requests_per_minute: int = Field(5_000, ge=1)
    tokens_per_minute: int = Field(4_000_000, ge=1)
    output_faults: OutputFaults = OutputFaults()

    @classmethod
    def from_env(cls) -> LLMSimulatorConfig:
        """SIMULATOR_LLM_API_KEY, SIMULATOR_LLM_MODELS (JSON list), SIMULATOR_LLM_REQUESTS_PER_MINUTE,
        SIMULATOR_LLM_TOKENS_PER_MINUTE and SIMULATOR_LLM_OUTPUT_FAULTS (JSON), each optional."""
        return cls.model_validate(_FromEnvironment().model_dump())


class _FromEnvironment(BaseSettings, LLMSimulatorConfig):
    model_config = SettingsConfigDict(env_prefix="SIMULATOR_LLM_", extra="ignore")


FaultKind = Literal["invalid_json", "schema_violation", "truncated", "refusal"]


@dataclass(frozen=True)
class Window:
    """What the rate limiter reports: limits, what is left, and seconds until the window resets."""

    limit_requests: int
    limit_tokens: int
    remaining_requests: int
    remaining_tokens: int
    reset_seconds: float
    allowed: bool


class LLMBackend:
    def __init__(self, config: LLMSimulatorConfig, seed: int):
        self.config = config
        self._seed = seed
        self._lock = threading.Lock()
        self._window_start = time.monotonic()
        self._window_requests = 0
        self._window_tokens = 0
        self._completions = 0  # answered chat completions, numbered for their ids
        self.configure_output_faults(config.output_faults)

    def configure_output_faults(self, faults: OutputFaults) -> None:
        """New settings restart the generator and the per-prompt counts: a known sequence for tests."""
        with self._lock:
            self.output_faults = faults
            self._rng = random.Random(f"{self._seed}:llm-output")
            self._faults_per_prompt: Counter[str] = Counter()

    def accepts_key(self, key: str) -> bool:
        return bool(key) and (self.config.api_key is None or key == self.config.api_key)

    def knows_model(self, model: str) -> bool:
        return model in self.config.models

    def admit(self, tokens: int) -> Window:
        """Counts one request of ``tokens`` against the per-minute limits (a fixed one-minute window)."""
        with self._lock:
            now = time.monotonic()
            if now - self._window_start >= 60:
                self._window_start, self._window_requests, self._window_tokens = now, 0, 0
            config = self.config
            allowed = (
                self._window_requests < config.requests_per_minute
                and self._window_tokens + tokens <= config.tokens_per_minute
            )
            if allowed:
                self._window_requests += 1
                self._window_tokens += tokens
            return Window(
                config.requests_per_minute,
                config.tokens_per_minute,
                config.requests_per_minute - self._window_requests,
                max(0, config.tokens_per_minute - self._window_tokens),
                max(0.0, 60 - (now - self._window_start)),
                allowed,
            )

    def next_completion_number(self) -> int:
        with self._lock:
            self._completions += 1
            return self._completions

    def draw_fault(self, prompt_key: str) -> FaultKind | None:
        """One draw per completion against stacked thresholds, as the HTTP faults do."""
        with self._lock:
            faults = self.output_faults
            outcome = self._rng.random()
            threshold = 0.0
            kinds: tuple[tuple[FaultKind, float], ...] = (
                ("invalid_json", faults.invalid_json_rate),
                ("schema_violation", faults.schema_violation_rate),
                ("truncated", faults.truncated_rate),
                ("refusal", faults.refusal_rate),
            )
            for kind, rate in kinds:
                threshold += rate
                if outcome < threshold:
                    cap = faults.max_per_conversation
                    if cap is not None and self._faults_per_prompt[prompt_key] >= cap:
                        return None
                    self._faults_per_prompt[prompt_key] += 1
                    return kind
            return None


# --- the "model" ---------------------------------------------------------------------------------

_TAG = re.compile(r"<[^>]+>")
_LIMIT = re.compile(r"at most (\d+) (characters|items)", re.IGNORECASE)


class Facts:
    """The product data found in the prompt: the first JSON object in the last user message."""

    def __init__(self, messages: list[dict[str, Any]]):
        self.data: dict[str, Any] = {}
        for message in reversed(messages):
            if message.get("role") == "user":
                self.data = _first_json_object(_text_of(message.get("content")))
                break

    def text(self, *keys: str) -> str:
        for key in keys:
            value = self.data.get(key)
            if isinstance(value, str) and value.strip():
                return re.sub(r"\s+", " ", html.unescape(_TAG.sub(" ", value))).strip()
        return ""

    @property
    def title(self) -> str:
        title = self.text("title", "name") or "Product"
        brand = self.brand
        return title if not brand or brand.lower() in title.lower() else f"{brand} {title}"

    @property
    def brand(self) -> str:
        brand = self.data.get("brand")
        return (brand.get("name", "") if isinstance(brand, dict) else brand or "").strip()

    @property
    def category(self) -> str:
        categories = self.data.get("categories")
        if isinstance(categories, list) and categories:
            return str(categories[-1])
        return self.text("category") or "General"

    @property
    def attributes(self) -> list[tuple[str, str]]:
        raw = self.data.get("attributes")
        if isinstance(raw, dict):
            pairs = list(raw.items())
        else:
            pairs = [(a.get("name"), a.get("value")) for a in raw or [] if isinstance(a, dict)]
        found = [(str(n), str(v)) for n, v in pairs if n and v not in (None, "")]
        for name, key in (("Brand", "brand"), ("Model", "mpn"), ("GTIN", "gtin")):
            if self.text(key) and name not in dict(found):
                found.append((name, self.text(key)))
        return found

    @property
    def description(self) -> str:
        body = self.text("description") or f"{self.title}."
        specifics = "; ".join(f"{n}: {v}" for n, v in self.attributes)
        return f"{body}\n\nSpecifications: {specifics}." if specifics else body

    @property
    def shipping_estimate(self) -> dict[str, Any]:
        """A model's guess at one packaged unit: the middle of the weights such goods have (the simulated
        catalogue's category ranges, plus a fifth for the box), in a box of matching volume."""
        words = {w.rstrip("s") for w in re.findall(r"\w{4,}", f"{self.category} {self.title}".casefold())}

        def matches(c) -> int:
            return len(words & {w.rstrip("s") for w in re.findall(r"\w{4,}", c.name.casefold())})

        category = max(CATEGORIES, key=matches)
        category = category if matches(category) else None
        if category is None:
            return {"weight_grams": 800, "length_cm": 25.0, "width_cm": 20.0, "height_cm": 10.0,
                    "reason": "a general boxed item: the product data gives no weight or size"}  # fmt: skip
        grams = round(sum(category.grams) / 2 * 1.2, -1)
        side = max(10.0, (grams * 4) ** (1 / 3))  # about 0.25 g/cm³ packed
        return {"weight_grams": int(grams), "length_cm": round(side * 1.6, 1), "width_cm": round(side * 1.1, 1),
                "height_cm": round(side * 0.6, 1),
                "reason": f"typical {category.name.lower()} in retail packaging"}  # fmt: skip

    @property
    def keywords(self) -> list[str]:
        words = re.findall(r"[\w-]{3,}", f"{self.brand} {self.title} {self.category}".lower())
        return list(dict.fromkeys(words))


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _first_json_object(text: str) -> dict[str, Any]:
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    return {}


def _limit(schema: dict[str, Any], keyword: str, unit: str) -> int | None:
    if keyword in schema:
        return schema[keyword]
    match = _LIMIT.search(schema.get("description", ""))
    return int(match.group(1)) if match and match.group(2).lower() == unit else None


def _fit(text: str, limit: int | None) -> str:
    """Cut at a word boundary, as a model keeping to a length would, not ending on a connector."""
    if limit is None or len(text) <= limit:
        return text
    words = text[: limit + 1].split(" ")[:-1] or [text[:limit]]
    while len(words) > 1 and words[-1].lower() in ("and", "for", "with", "of", "the", "-", "&", "/"):
        words.pop()
    return " ".join(words).rstrip(" ,;:-")


class Generator:
    """Answers a JSON schema from the facts; resolves local ``$ref``s against the root schema."""

    def __init__(self, root: dict[str, Any], facts: Facts):
        self.root, self.facts = root, facts

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            node: Any = self.root
            for part in schema["$ref"].removeprefix("#/").split("/"):
                node = node[part]
            schema = node
        return schema

    def value(self, schema: dict[str, Any], name: str = "") -> Any:
        schema = self.resolve(schema)
        if "anyOf" in schema:
            branches = [self.resolve(b) for b in schema["anyOf"]]
            chosen = next((b for b in branches if b.get("type") != "null"), branches[0])
            return self.value(chosen, name)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            # The product's own value when it is allowed, else the last option (usually "unknown").
            wanted = self.facts.text(name).lower()
            return next((v for v in schema["enum"] if str(v).lower() == wanted), schema["enum"][-1])
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind == "object":
            properties = schema.get("properties", {})
            if "weight_grams" in properties:  # a shipping estimate: what a model knows of such goods
                estimate = self.facts.shipping_estimate
                return {prop: estimate.get(prop) for prop in properties}
            return {prop: self.value(sub, prop) for prop, sub in properties.items()}
        if kind == "array":
            return self.array(schema, name)
        if kind == "string":
            return _fit(self.string(name), _limit(schema, "maxLength", "characters"))
        if kind in ("integer", "number"):
            value = self.facts.data.get(name)
            return value if isinstance(value, int | float) and not isinstance(value, bool) else 0
        if kind == "boolean":
            return False
        return None

    def string(self, name: str) -> str:
        facts = self.facts
        key = name.lower()
        if key in ("title", "name"):
            return facts.title
        if key == "description":
            return facts.description
        if key == "category":
            return facts.category
        return facts.text(name)

    def array(self, schema: dict[str, Any], name: str) -> list[Any]:
        items = self.resolve(schema.get("items", {}))
        limit = _limit(schema, "maxItems", "items")
        if items.get("type") == "object":
            values = [self.pair(items, n, v) for n, v in self.facts.attributes]
        elif name.lower() in ("keywords", "tags"):
            values = self.facts.keywords
        else:
            values = []
        return values[:limit] if limit is not None else values

    def pair(self, schema: dict[str, Any], attr_name: str, attr_value: str) -> dict[str, Any]:
        """An item object for one attribute: its name/value properties filled, others generated."""
        out = {}
        for prop, sub in schema.get("properties", {}).items():
            if prop.lower() in ("name", "key", "label"):
                out[prop] = _fit(attr_name, _limit(self.resolve(sub), "maxLength", "characters"))
            elif prop.lower() == "value":
                out[prop] = _fit(attr_value, _limit(self.resolve(sub), "maxLength", "characters"))
            else:
                out[prop] = self.value(sub, prop)
        return out


def answer_json(schema: dict[str, Any], messages: list[dict[str, Any]], name: str | None = None) -> Any:
    if name == ATTRIBUTES_SCHEMA:
        return fill_attributes(schema, Facts(messages))
    if name == CHOICE_SCHEMA:
        return choose_category(Facts(messages))
    return Generator(schema, Facts(messages)).value(schema)


# --- a marketplace category's attributes ("category_attributes": the schema is the category's) ---------

ATTRIBUTES_SCHEMA = "category_attributes"
CHOICE_SCHEMA = "category_choice"
CLEAR_FIT = 0.5  # below this, the model says no candidate clearly fits


def choose_category(facts: Facts) -> dict[str, Any]:
    """Which candidate category the product belongs in, as a model that knows products (a Les Paul is an
    electric guitar) would say: each candidate's leaf found in the shared product taxonomy, ranked on the
    product's text with what is known of each leaf; none clearly fits: null."""
    from retail_pipeline.simulators import taxonomy_data

    product = facts.data.get("product") or {}
    text = (
        " ".join(str(product.get(k) or "") for k in ("title", "brand", "category", "description"))
        + " "
        + " ".join(map(str, product.get("keywords") or ()))
    )
    by_leaf: dict[str, list[str]] = {}
    for candidate in facts.data.get("candidates") or ():
        leaf = str(candidate.get("path", "")).split(" > ")[-1].split(" / ")[-1].strip().lower()
        by_leaf.setdefault(leaf, []).append(str(candidate.get("id")))
    nodes = tuple(n for n in taxonomy_data.leaves() if n.name.lower() in by_leaf)
    ranked = taxonomy_data.rank(text, limit=1, candidates=nodes) if nodes else []
    if not ranked or ranked[0][1] < CLEAR_FIT:
        return {"category_id": None}
    return {"category_id": by_leaf[ranked[0][0].name.lower()][0]}


def _phrase(text: str) -> str:
    """Lower-case words between spaces, a number and its unit written together ("128 GB" and "128GB"
    both " 128gb "), so a value is found however the text spaces it."""
    spaced = f" {' '.join(re.findall(r'[a-z0-9]+', text.lower()))} "
    return re.sub(r"(?<= )(\d+) (gb|tb|mb|kg|g|l|v|w|mah|mm|cm|hz)(?= )", r"\1\2", spaced)


_SCREEN = re.compile(r"(\d{1,3}(?:\.\d)?)\s*(?:\"|-?inch\b|in\b)", re.IGNORECASE)
_PROCESSOR = re.compile(
    r"\b(Apple M[1-4](?: Pro| Max)?|M[1-4](?: Pro| Max)?|Intel Core (?:Ultra )?[i3579-]+\S*|Core i[3579]|"
    r"AMD Ryzen \d+|Ryzen \d+|Snapdragon X\S*)\b"
)


_MODEL_SIZE = re.compile(r"\b[A-Za-z]*?(1[0-7])\b(?![\"])")  # "Zenbook 14", "ThinkPad E14", "Strix G16"
_VOLTAGE = re.compile(r"\b(\d{2})\s?V\b")

# What a language model knows of well-known products beyond their text: (attribute key, words in the
# text, value). Only offered where the category's schema allows the value.
_KNOWN: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (key, re.compile(words, re.IGNORECASE), value)
    for key, words, value in (
        ("operatingsystem", r"\b(iphone|ipad)\b", "iOS"),
        ("operatingsystem", r"\bmacbook\b", "macOS"),
        ("operatingsystem", r"\bchromebook\b", "ChromeOS"),
        ("operatingsystem", r"\b(galaxy|pixel|oppo|motorola|moto|xiaomi|redmi|reno)\b", "Android"),
        ("operatingsystem", r"\bwindows 11\b", "Windows 11"),
        (
            "operatingsystem",
            r"\b(thinkpad|ideapad|zenbook|vivobook|rog|pavilion|aspire|swift|surface)\b",
            "Windows 11",
        ),
        ("formfactor", r"\b(earbuds|buds|airpods)\b", "Earbuds"),
        (
            "formfactor",
            r"\b(wh-?1000xm\d|quietcomfort (ultra )?headphones|momentum \d|accentum|airpods max)\b",
            "Over-Ear",
        ),
        ("connectivity", r"\b(wireless|bluetooth|earbuds|buds|airpods)\b", "Bluetooth"),
        ("platform", r"\b(playstation 5|ps5)\b", "PlayStation 5"),
        ("platform", r"\bxbox series\b", "Xbox Series X|S"),
        ("platform", r"\bswitch 2\b", "Nintendo Switch 2"),
        ("platform", r"\bswitch\b", "Nintendo Switch"),
        ("type", r"\b(stick|cordless) vac", "Stick"),
        ("type", r"\b(v8|v12|v15|jet)\b", "Stick"),
        ("type", r"\brobot\b", "Robot"),
        ("type", r"\bmirrorless\b", "Mirrorless"),
        ("processor", r"\bmacbook air\b", "Apple M3"),
    )
)


def _read(name: str, text: str, allowed: list[Any] | None = None) -> str | None:
    """What a model reads off the text (a screen size, a processor, a voltage), or knows of a
    well-known product (an iPhone runs iOS), for an attribute the text does not name outright."""
    key = re.sub(r"[^a-z]", "", name.lower())  # "Screen Size", "ScreenSize", "screen_size"
    found: str | None = None
    if "screensize" in key:
        match = _SCREEN.search(text) or _MODEL_SIZE.search(text)
        found = f"{match.group(1)} in" if match else None
    elif key == "processor" and (match := _PROCESSOR.search(text)):
        found = match.group(1)
    elif key == "voltage" and (match := _VOLTAGE.search(text)):
        found = f"{match.group(1)}V"
    if found is None:
        found = next(
            (
                value
                for k, words, value in _KNOWN
                if k == key and words.search(text) and (not allowed or value in allowed)
            ),
            None,
        )
    return found


def _nullable(prop: dict[str, Any]) -> bool:
    kind = prop.get("type")
    return (isinstance(kind, list) and "null" in kind) or any(
        b.get("type") == "null" for b in prop.get("anyOf", []) if isinstance(b, dict)
    )


def fill_attributes(schema: dict[str, Any], facts: Facts) -> dict[str, Any]:
    """As a careful model fills a category's attributes from the product text: an allowed value only when
    its words are in the text (the first of several for a single value), brand, model and MPN from the
    data, another attribute of the same name; null for what the text does not say (so a required one the
    text is silent on comes back null, and the caller's draft is blocked for it)."""
    data = facts.data
    attributes = {n.lower(): v for n, v in facts.attributes}
    text = " ".join(
        [
            facts.title,
            facts.text("description"),
            facts.text("category"),
            " ".join(f"{n} {v}" for n, v in facts.attributes),
        ]
    )
    phrase = _phrase(text)
    out: dict[str, Any] = {}
    for name, prop in (schema.get("properties") or {}).items():
        if "anyOf" in prop:
            prop = next((b for b in prop["anyOf"] if b.get("type") != "null"), prop)
        items = prop.get("items") if prop.get("type") == "array" else None
        allowed = [v for v in (items or prop).get("enum", []) if v is not None]
        key = re.sub(r"[^a-z]", "", name.lower())  # "Model Number", "model_number": "modelnumber"
        value: Any = None
        if allowed:
            hits = [v for v in allowed if _phrase(str(v)) in phrase]
            if not hits and (known := _read(name, text, allowed)):
                hits = [known]
            if hits:
                value = hits if items is not None else hits[0]
        elif key in ("brand", "manufacturer", "brandname"):
            value = facts.brand or None
        elif key in ("mpn", "partnumber", "manufacturerpartnumber"):
            value = facts.text("mpn") or None
        elif key in ("model", "modelnumber", "modelname"):
            title, brand = facts.text("title"), facts.brand
            model = title[len(brand) :].strip() if brand and title.lower().startswith(brand.lower()) else ""
            value = attributes.get("model") or facts.text("mpn") or " ".join(model.split()[:3]) or None
        else:
            value = attributes.get(name.lower()) or attributes.get(key) or data.get(name) or _read(name, text)
            value = str(value) if value not in (None, "") else None
        if items is not None and value is not None and not isinstance(value, list):
            value = [value]
        out[name] = value
    return out


def answer_text(messages: list[dict[str, Any]]) -> str:
    facts = Facts(messages)
    return f"{facts.title}\n\n{facts.description}" if facts.data else "I can help with product listings."
