"""Sign-in in a real browser: the form, roles in the navigation, an admin creating and revoking a key, and
the revoked key's open session ending."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from retail_pipeline_tests.console.conftest import sign_in


def test_signin_roles_and_revocation_in_the_browser(new_page, signed_in, screenshot):
    stranger = new_page()
    stranger.goto("/console/inbox")
    expect(stranger).to_have_url(re.compile(r"/console/signin\?next=/console/inbox$"))
    stranger.get_by_label("API key").fill("rp_12345678_wrong")
    screenshot(stranger, "signin")
    stranger.get_by_role("button", name="Sign in").click()
    expect(stranger.get_by_role("alert")).to_contain_text("unknown API key")

    admin = signed_in("admin", label="Ana (admin)")
    expect(admin.locator("header .who")).to_contain_text("Ana (admin) · admin")
    admin.get_by_role("link", name="Keys").click()
    admin.get_by_label("Role").select_option("viewer")
    admin.get_by_label("Label").fill("warehouse tablet")
    admin.get_by_role("button", name="Create key").click()
    new_key = admin.locator("#new-key").inner_text()
    assert new_key.startswith("rp_")

    # The new viewer key signs in elsewhere; a viewer has no Keys page in its navigation.
    tablet = new_page()
    sign_in(tablet, new_key)
    expect(tablet.locator("header .who")).to_contain_text("warehouse tablet · viewer")
    expect(tablet.locator('nav a[data-nav="keys"]')).to_have_count(0)

    # The admin revokes it: the tablet's next page load asks it to sign in again.
    prefix = "_".join(new_key.split("_")[:2])
    admin.once("dialog", lambda dialog: dialog.accept())
    admin.locator("tr", has_text=prefix).get_by_role("button", name="Revoke").click()
    expect(admin.locator("tr", has_text=prefix)).to_contain_text("revoked")
    screenshot(admin, "keys")
    tablet.goto("/console/orders")
    expect(tablet).to_have_url(re.compile(r"/console/signin"))

    # Signing out ends the admin's session.
    admin.get_by_role("button", name="Sign out").click()
    expect(admin).to_have_url(re.compile(r"/console/signin$"))
    admin.goto("/console/keys")
    expect(admin).to_have_url(re.compile(r"/console/signin"))
