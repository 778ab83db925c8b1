"""The dealer site's HTML, in its two layouts.

Layout "a" is a one-column form with `<label for=…>`; layout "b" (a redesign) has the same fields and
label texts in another order, in a two-column grid, labels wrapping their controls, other ids, names
and classes, and the buttons in a sticky footer: only locators by label text and role work on both.
The JavaScript finds its elements by data attributes, so it serves both layouts. Item forms are
`novalidate`: the server checks every field and answers with its messages (role="alert"); the browser's own
checks never hold a form back silently.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from . import taxonomy
from .models import CONDITIONS, CURRENCIES, FIRST_YEAR, MAX_IMAGES, SOLD, Item

e = html.escape
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class FieldSpec:
    key: str  # the backend's name (models.FIELDS)
    label: str
    kind: str  # text | number | select | textarea


FIELD_SPECS = {
    spec.key: spec
    for spec in (
        FieldSpec("brand", "Brand", "brand"),
        FieldSpec("model", "Model", "text"),
        FieldSpec("category", "Category", "category"),
        FieldSpec("subcategory", "Subcategory", "subcategory"),
        FieldSpec("year", "Year", "year"),
        FieldSpec("price", "Price", "price"),
        FieldSpec("currency", "Currency", "currency"),
        FieldSpec("quantity", "Quantity", "quantity"),
        FieldSpec("condition", "Condition", "condition"),
        FieldSpec("description", "Description", "textarea"),
        FieldSpec("reference", "Your reference", "text"),
    )
}


@dataclass(frozen=True)
class Layout:
    name: str
    order: tuple[str, ...]
    field_names: dict[str, str]  # backend name -> the posted form field's name
    image_field: str

    def posted(self, form: dict[str, str]) -> dict[str, str]:
        """A submitted item form in the backend's names."""
        return {key: form.get(name, "") for key, name in self.field_names.items()}


LAYOUTS = {
    "a": Layout(
        "a",
        tuple(FIELD_SPECS),
        {
            "brand": "brand",
            "model": "model",
            "category": "category_id",
            "subcategory": "subcategory_id",
            "year": "year",
            "price": "price",
            "currency": "currency",
            "quantity": "quantity",
            "condition": "condition",
            "description": "description",
            "reference": "reference",
        },
        "image",
    ),
    "b": Layout(
        "b",
        (
            "reference",
            "category",
            "subcategory",
            "brand",
            "model",
            "year",
            "condition",
            "price",
            "currency",
            "quantity",
            "description",
        ),
        {
            "brand": "item[make]",
            "model": "item[model_name]",
            "category": "item[cat]",
            "subcategory": "item[subcat]",
            "year": "item[year_made]",
            "price": "item[asking_price]",
            "currency": "item[currency_code]",
            "quantity": "item[qty]",
            "condition": "item[grade]",
            "description": "item[details]",
            "reference": "item[dealer_ref]",
        },
        "item[photo]",
    ),
}

_STYLE = """
body{font-family:system-ui,sans-serif;margin:0;color:#222;background:#faf8f5}
header.site{background:#1d1d1b;color:#fff;padding:.6rem 1rem;display:flex;gap:1rem;align-items:center}
header.site a{color:#f3d37a}
main{max-width:60rem;margin:1rem auto;padding:0 1rem 5rem}
.form-row{margin:.6rem 0;display:flex;flex-direction:column;max-width:32rem}
.grid-2{display:grid;grid-template-columns:1fr 1fr;gap:.8rem 1.5rem}
.grid-2 .fld{display:flex;flex-direction:column}.grid-2 .fld.wide{grid-column:1/3}
.sticky-actions{position:fixed;bottom:0;left:0;right:0;background:#fff;border-top:1px solid #ccc;
padding:.6rem 1rem;display:flex;gap:.6rem;justify-content:flex-end}
[role=alert]{background:#fde8e8;border:1px solid #c33;padding:.5rem 1rem}
[role=status]{background:#e8f6e8;border:1px solid #3a3;padding:.5rem 1rem}
.suggestions{list-style:none;margin:0;padding:0;border:1px solid #bbb;background:#fff;max-width:32rem}
.suggestions li{padding:.2rem .5rem;cursor:pointer}.suggestions li:hover{background:#eef}
ol.images{display:flex;flex-wrap:wrap;gap:.5rem;list-style:none;padding:0}
ol.images img{width:120px;height:90px;object-fit:cover}
table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:.3rem .6rem;text-align:left}
"""

# Brand suggestions as you type, and the subcategories of the chosen category.
_SCRIPT = """
(() => {
  const base = document.body.dataset.base || "";
  // [] when the answer is not JSON (an expired session redirects to the sign-in page).
  const getJson = async (path) => {
    try {
      const answer = await fetch(base + path, {headers: {Accept: "application/json"}});
      return answer.ok ? await answer.json() : [];
    } catch (error) {
      return [];
    }
  };
  document.querySelectorAll("[data-brand-input]").forEach((input) => {
    const list = document.getElementById(input.dataset.suggestions);
    let timer = null, asked = 0;
    const close = () => { list.replaceChildren(); list.hidden = true; };
    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const query = input.value.trim(), ask = ++asked;
        if (!query) { close(); return; }
        const brands = await getJson("/dealer/brands?q=" + encodeURIComponent(query));
        if (ask !== asked) return;  // a later keystroke's answer wins
        list.replaceChildren(...brands.map((brand) => {
          const option = document.createElement("li");
          option.setAttribute("role", "option");
          option.textContent = brand;
          option.addEventListener("click", () => { input.value = brand; close(); });
          return option;
        }));
        list.hidden = brands.length === 0;
      }, 120);
    });
  });
  document.querySelectorAll("[data-category-select]").forEach((category) => {
    const sub = document.getElementById(category.dataset.subcategory);
    category.addEventListener("change", async () => {
      sub.replaceChildren();
      if (!category.value) return;
      const subs = await getJson("/dealer/categories/" + category.value + "/subcategories");
      sub.replaceChildren(new Option("Choose a subcategory", ""),
                          ...subs.map((s) => new Option(s.name, String(s.id))));
    });
  });
})();
"""


def shell(base: str, title: str, main: str, *, signed_in: bool = False, layout: str = "a") -> str:
    nav = (
        f'<nav><a href="{base}/dealer/items">My items</a> · <a href="{base}/dealer/items/new">Add an item</a>'
        f' · <a href="{base}/dealer/export/inventory.csv">Export inventory (CSV)</a></nav>'
        if signed_in
        else ""
    )
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>'
        f"<style>{_STYLE}</style></head>"
        f'<body data-base="{e(base)}" class="layout-{layout}">'
        f'<header class="site"><strong>Vintage &amp; Rare</strong>{nav}</header>'
        f"<main>{main}</main><script>{_SCRIPT}</script></body></html>"
    )


def message_page(base: str, title: str, text: str) -> str:
    return shell(base, title, f"<h1>{e(title)}</h1><p>{e(text)}</p>")


def challenge_page() -> str:
    """A bot check no script passes: it only goes away when a person turns it off."""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Just a moment...</title></head>'
        "<body><h1>vintageandrare.com</h1><p>Checking your browser before accessing vintageandrare.com.</p>"
        '<div id="challenge-stage"><noscript>Enable JavaScript and cookies to continue</noscript></div>'
        "<p>This process is automatic. Your browser will redirect to your requested content shortly.</p>"
        "</body></html>"
    )


def login_page(base: str, csrf: str, next_path: str, *, error: str = "", expired: bool = False) -> str:
    notices = ""
    if expired:
        notices += '<p role="status">Your session has expired. Please sign in again.</p>'
    if error:
        notices += f'<div role="alert">{e(error)}</div>'
    main = (
        f"<h1>Dealer sign in</h1>{notices}"
        f'<form method="post" action="{base}/login" class="login">'
        f'<input type="hidden" name="{CSRF_FIELD}" value="{e(csrf)}">'
        f'<input type="hidden" name="next" value="{e(next_path)}">'
        '<div class="form-row"><label for="login-email">Email</label>'
        '<input id="login-email" name="email" type="email" autocomplete="username" required></div>'
        '<div class="form-row"><label for="login-password">Password</label>'
        '<input id="login-password" name="password" type="password" autocomplete="current-password" required>'
        '</div><button type="submit">Sign in</button></form>'
    )
    return shell(base, "Dealer sign in", main)


def items_page(base: str, items: Sequence[Item]) -> str:
    rows = "".join(
        f"<tr><td>{item.id}</td><td>{e(item.reference)}</td><td>{e(item.title)}</td>"
        f"<td>{item.currency} {item.price:.2f}</td><td>{'Sold' if item.status == SOLD else 'For sale'}</td>"
        f'<td><a href="{base}/dealer/items/{item.id}/edit">Edit</a></td></tr>'
        for item in items
    )
    main = (
        "<h1>My items</h1><table><thead><tr><th>Item ID</th><th>Our reference</th><th>Title</th><th>Price</th>"
        f"<th>Status</th><th></th></tr></thead><tbody>{rows}</tbody></table>"
        + ("" if items else "<p>You have no items yet.</p>")
    )
    return shell(base, "My items", main, signed_in=True)


def item_values(item: Item) -> dict[str, str]:
    """An item as its form shows it, in the backend's names."""
    return {
        "brand": item.brand,
        "model": item.model,
        "category": str(item.category_id),
        "subcategory": str(item.subcategory_id),
        "year": "" if item.year is None else str(item.year),
        "price": f"{item.price:.2f}",
        "currency": item.currency,
        "quantity": str(item.quantity),
        "condition": item.condition,
        "description": item.description,
        "reference": item.reference,
    }


def _options(choices: Sequence[tuple[str, str]], selected: str, placeholder: str | None) -> str:
    out = f'<option value="">{e(placeholder)}</option>' if placeholder is not None else ""
    for value, text in choices:
        mark = " selected" if value == selected else ""
        out += f'<option value="{e(value)}"{mark}>{e(text)}</option>'
    return out


def _control(spec: FieldSpec, layout: Layout, values: dict[str, str], this_year: int) -> str:
    """The input of one field (its id is `<layout>-<key>`)."""
    name, value = layout.field_names[spec.key], values.get(spec.key, "")
    ident = f"{layout.name}-{spec.key}"
    common = f'id="{ident}" name="{e(name)}"'
    if spec.kind == "brand":
        return (
            f'<input {common} type="text" value="{e(value)}" autocomplete="off" required data-brand-input '
            f'data-suggestions="{ident}-suggestions">'
            f'<ul id="{ident}-suggestions" class="suggestions" role="listbox" aria-label="Brand suggestions" '
            "hidden></ul>"
        )
    if spec.kind == "category":
        choices = [(str(c.id), c.name) for c in taxonomy.categories()]
        return (
            f'<select {common} required data-category-select data-subcategory="{layout.name}-subcategory">'
            f"{_options(choices, value, 'Choose a category')}</select>"
        )
    if spec.kind == "subcategory":
        category = (
            taxonomy.category(int(values["category"])) if values.get("category", "").isdigit() else None
        )
        # Empty until a category is chosen; the script fills it from the server.
        inner = (
            _options([(str(s.id), s.name) for s in category.subcategories], value, "Choose a subcategory")
            if category
            else ""
        )
        return f"<select {common} required>{inner}</select>"
    if spec.kind == "year":
        return (
            f'<input {common} type="number" min="{FIRST_YEAR}" max="{this_year}" step="1" value="{e(value)}">'
        )
    if spec.kind == "price":
        return f'<input {common} type="number" min="0.01" step="0.01" required value="{e(value)}">'
    if spec.kind == "quantity":
        return f'<input {common} type="number" min="1" step="1" required value="{e(value or "1")}">'
    if spec.kind == "currency":
        return f"<select {common} required>{_options([(c, c) for c in CURRENCIES], value, None)}</select>"
    if spec.kind == "condition":
        return (
            f"<select {common} required>"
            f"{_options([(c, c) for c in CONDITIONS], value, 'Choose a condition')}</select>"
        )
    if spec.kind == "textarea":
        return f'<textarea {common} rows="6" required>{e(value)}</textarea>'
    extra = ' maxlength="50"' if spec.key == "reference" else " required"
    return f'<input {common} type="text" value="{e(value)}"{extra}>'


def _fields(layout: Layout, values: dict[str, str], this_year: int) -> str:
    out = []
    for key in layout.order:
        spec = FIELD_SPECS[key]
        control = _control(spec, layout, values, this_year)
        if layout.name == "a":
            out.append(f'<div class="form-row"><label for="a-{key}">{spec.label}</label>{control}</div>')
        else:  # the label wraps its control, no for=
            # aria-labelledby names the control by the span alone: a wrapping label's text would also take
            # in a select's chosen option ("Category Guitars")
            wide = " wide" if spec.kind == "textarea" else ""
            control = control.replace(f'id="b-{key}"', f'id="b-{key}" aria-labelledby="b-{key}-label"', 1)
            out.append(
                f'<label class="fld{wide}"><span class="fld-label" id="b-{key}-label">{spec.label}</span>'
                f"{control}</label>"
            )
    return "".join(out)


def item_form_page(
    base: str,
    layout: Layout,
    csrf: str,
    values: dict[str, str],
    this_year: int,
    *,
    item: Item | None = None,
    errors: Sequence[str] = (),
    notice: str = "",
) -> str:
    """The add form (no item) or the edit form with the item's images and actions."""
    title = "Add an item" if item is None else f"Edit item {item.id}"
    action = f"{base}/dealer/items/new" if item is None else f"{base}/dealer/items/{item.id}/edit"
    form_id = f"item-form-{layout.name}"
    alert = (
        '<div role="alert"><p>Please correct the following:</p><ul>'
        + "".join(f"<li>{e(message)}</li>" for message in errors)
        + "</ul></div>"
        if errors
        else ""
    )
    status = f'<p role="status">{e(notice)}</p>' if notice else ""
    sold = f'<p class="state">Status: {"Sold" if item.status == SOLD else "For sale"}</p>' if item else ""
    hidden = f'<input type="hidden" name="{CSRF_FIELD}" value="{e(csrf)}">'
    fields = _fields(layout, values, this_year)
    save = f'<button type="submit" form="{form_id}">Save item</button>'
    images = _images_section(base, layout, csrf, item) if item else ""
    actions = ""
    if item:
        actions = (
            f'<form id="sold-{layout.name}" method="post" action="{base}/dealer/items/{item.id}/sold">{hidden}</form>'
            f'<form id="delete-{layout.name}" method="post" action="{base}/dealer/items/{item.id}/delete">'
            f"{hidden}</form>"
        )
        buttons = (
            f'<button type="submit" form="sold-{layout.name}">Mark as sold</button>'
            f'<button type="submit" form="delete-{layout.name}" class="danger">Delete item</button>'
        )
    else:
        buttons = ""
    if layout.name == "a":
        main = (
            f"<h1>{e(title)}</h1>{status}{alert}{sold}"
            f'<form id="{form_id}" class="vr-form" method="post" action="{action}" novalidate>{hidden}{fields}'
            f'{save}</form>{images}{actions}<p class="actions">{buttons}</p>'
        )
    else:
        main = (
            f'<section class="editor"><h2 class="page-title">{e(title)}</h2>{alert}{status}{sold}{images}'
            f'<form id="{form_id}" class="grid-2 item-editor" method="post" action="{action}" novalidate>{hidden}'
            f'{fields}</form>{actions}</section><footer class="sticky-actions">{buttons}{save}</footer>'
        )
    return shell(base, title, main, signed_in=True, layout=layout.name)


def _images_section(base: str, layout: Layout, csrf: str, item: Item) -> str:
    listed = "".join(
        f'<li><img src="{base}/images/{item.id}/{number}.{image.ext}" alt="Image {number}"></li>'
        for number, image in enumerate(item.images, start=1)
    )
    ident = f"{layout.name}-image-file"
    label = (
        f'<label for="{ident}">Add image</label><input id="{ident}" type="file" name="{layout.image_field}" '
        'accept="image/jpeg,image/png,image/webp">'
        if layout.name == "a"
        else f'<label class="fld"><span id="{ident}-label">Add image</span><input type="file" '
        f'name="{layout.image_field}" aria-labelledby="{ident}-label" accept="image/jpeg,image/png,image/webp">'
        "</label>"
    )
    return (
        f'<section class="images-{layout.name}" aria-labelledby="{layout.name}-images-heading">'
        f'<h2 id="{layout.name}-images-heading">Images</h2>'
        f'<p class="image-count">{len(item.images)} of {MAX_IMAGES} images</p><ol class="images">{listed}</ol>'
        f'<form method="post" action="{base}/dealer/items/{item.id}/images" enctype="multipart/form-data">'
        f'<input type="hidden" name="{CSRF_FIELD}" value="{e(csrf)}">{label}'
        '<button type="submit">Upload image</button></form></section>'
    )


def delete_confirm_page(base: str, csrf: str, item: Item) -> str:
    main = (
        f"<h1>Delete item {item.id}?</h1><p>{e(item.title)} will be removed from your items and from sale. "
        "This cannot be undone.</p>"
        f'<form method="post" action="{base}/dealer/items/{item.id}/delete?confirm=1">'
        f'<input type="hidden" name="{CSRF_FIELD}" value="{e(csrf)}">'
        '<button type="submit">Yes, delete this item</button></form>'
        f'<p><a href="{base}/dealer/items/{item.id}/edit">No, keep it</a></p>'
    )
    return shell(base, "Delete item", main, signed_in=True)


def public_item_page(base: str, item: Item) -> str:
    photos = "".join(
        f'<img src="{base}/images/{item.id}/{n}.{image.ext}" alt="{e(item.title)} photo {n}">'
        for n, image in enumerate(item.images, start=1)
    )
    state = "Sold" if item.status == SOLD else f"{item.currency} {item.price:.2f}"
    main = (
        f'<article class="item"><h1>{e(item.title)}</h1><p class="price">{state}</p>'
        f"<p>{e(item.category.name)} › {e(item.subcategory_name)} · Condition: {e(item.condition)}</p>"
        f'<div class="photos">{photos}</div><div class="description">{e(item.description)}</div></article>'
    )
    return shell(base, item.title, main)
