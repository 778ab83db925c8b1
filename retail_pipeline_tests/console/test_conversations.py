"""Customer service in a real browser: an operator answers a buyer with a saved reply (posted once on
Reverb), then a second reply is held because the buyer wrote meanwhile (the warning shows the new
message; sending anyway posts it), a live message shows up, and `e` resolves the thread and moves on."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from retail_pipeline.defs.messages.assets import reply_channel
from retail_pipeline.defs.messages.settings import MessagingSettings
from retail_pipeline.messaging import conversations as cs
from retail_pipeline.simulators.buyers import Buyer
from retail_pipeline_tests.seeds.conversations import bestbuy_thread, reverb_thread, seller_posts, sync


def off_the_loop(work, *args):
    """Runs `work` in a thread: Playwright's sync API holds an event loop in this one, and the sync
    and reply passes start their own."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(work, *args).result()


@pytest.fixture
def threads(engine, sim, channels, simulator_url, browser):
    return off_the_loop(seed_threads, engine, sim, channels)


def seed_threads(engine, sim, channels):
    """A morning's inbox: Reverb and Best Buy buyers, about shipped and unshipped orders and a listing."""
    reverb, mirakl = sim.backend("reverb"), sim.backend("mirakl")
    sim.clock.advance_to(datetime.now(UTC) - timedelta(hours=22))
    ids = {}
    ids["resolved"], _ = reverb_thread(
        engine, reverb, channels, "Arrived safely, sounds great. Thank you!", sku="RV-AMP",
        title="Vox AC15C1 combo amp", price="849.00",
    )  # fmt: skip
    cs.set_status(engine, ids["resolved"], "resolved")
    sim.clock.advance(5)
    ids["pending"], _ = reverb_thread(
        engine, reverb, channels, "Could you ship it to my work address instead?", sku="RV-STRAT",
        title="Fender Player Stratocaster, Polar White", price="1049.00", shipped=False,
        statuses=("pending_acceptance", "accepted"),
    )  # fmt: skip
    cs.set_status(engine, ids["pending"], "pending")
    sim.clock.advance(6)
    ids["adapter"] = bestbuy_thread(
        engine, mirakl, channels, "The pedal board came without its power adapter. Is it supposed to be included?",
        sku="BB-PEDALTRAIN", title="Pedaltrain Nano+ pedalboard with soft case", price="139.99", topic="Missing part",
    )  # fmt: skip
    sim.clock.advance(2)
    ids["return"], _ = reverb_thread(
        engine, reverb, channels, "The strap buttons are loose on arrival. I'd like to return it for a refund please.",
        sku="RV-BASS", title="Squier Classic Vibe '60s Jazz Bass", price="639.00",
    )  # fmt: skip
    sim.clock.advance(1)
    ids["black"] = bestbuy_thread(
        engine, mirakl, channels, "Do you also have these in black? The white ones show dirt quickly.",
        sku="BB-HD280", title="Sennheiser HD 280 Pro headphones, white", price="129.99", topic="Product question",
        shipped=False,
    )  # fmt: skip
    quiet_off = MessagingSettings(quiet_hours_start=None)  # the auto-replies these threads had by now
    reply_channel(engine, channels.inbox("bestbuy"), settings=quiet_off, now=sim.clock.now)
    reply_channel(engine, channels.inbox("reverb"), settings=quiet_off, now=sim.clock.now)
    sim.clock.advance(3)
    reverb.create_foreign_listing("MXR M101 Phase 90 (script logo reissue)", sku="RV-PHASE", price="129.00")
    browsing = Buyer("Liam", "Chen", "liam.chen@example.ca", "+1 604 555 0142", "88 Pender St", "Vancouver", "BC",
                     "British Columbia", "V6B 1A1")  # fmt: skip
    reverb.customer_message(
        "RV-PHASE", "Is this the script logo reissue or the block logo? Any scratches?", browsing
    )
    sync(engine, channels)
    sim.clock.advance(4)
    ids["main"], remote = reverb_thread(
        engine, reverb, channels, "Hi! Where is my order? The tracking hasn't moved since Tuesday.",
        sku="RV-DS1", title="Boss DS-1 Distortion pedal", price="89.00",
    )  # fmt: skip
    sim.clock.advance(0.5)
    reverb.customer_message(reverb.conversation(remote).order_number, "I need it for a gig on Saturday.")
    sync(engine, channels)
    with engine.begin() as conn:  # the auto-replies went out when the simulated buyers wrote, not now
        conn.execute(text("UPDATE retail.messages SET created_at = sent_at WHERE sent_at IS NOT NULL"))
        conn.execute(
            text(
                """UPDATE retail.conversations c SET last_activity_at = m.at
                     FROM (SELECT conversation_id, max(coalesce(sent_at, created_at)) AS at
                             FROM retail.messages GROUP BY conversation_id) m WHERE m.conversation_id = c.id"""
            )
        )
    return ids, remote


def test_reply_then_a_collision_held_and_sent_anyway(signed_in, screenshot, engine, sim, channels, threads):
    ids, remote = threads
    reverb = sim.backend("reverb")
    before = seller_posts(sim)  # the seed's auto-replies
    page = signed_in("operator", label="Dana (support)")
    page.goto(f"/console/conversations/{ids['main']}")

    order_number = str(reverb.conversation(remote).order_number)
    expect(page.get_by_role("complementary", name="Order")).to_contain_text(f"#{order_number}")
    expect(page.get_by_role("complementary", name="Order")).to_contain_text("Boss DS-1 Distortion pedal")
    expect(page.locator("#threads .cs-thread")).to_have_count(5)  # the open tab: resolved/pending elsewhere
    expect(page.locator(f'#threads [data-id="{ids["main"]}"] .cs-unread')).to_have_text("2")

    # 1. A saved reply, filled for this buyer and order, sent with Ctrl+Enter: posted once on Reverb.
    page.get_by_label("Saved replies").select_option(label="Tracking details")
    body = page.locator("#reply-body")
    expect(body).to_have_value(re.compile(rf"^Hello \w+,.*order {order_number} is on its way", re.S))
    body.press("Control+Enter")
    expect(page.locator("#reply-state")).to_have_text("Sent")
    expect(page.locator("#messages .cs-outbound")).to_have_count(1)
    assert seller_posts(sim) == before + 1

    # 2. The buyer writes while the agent types: the reply is held with the new message shown.
    body.fill("It is with Canada Post and should reach you by Friday.")
    sim.clock.advance(0.2)
    reverb.customer_message(int(order_number), "Oh wait, it just arrived! Sorry for the trouble.")
    off_the_loop(sync, engine, channels)
    page.evaluate(  # what the console's event stream dispatches for a new message
        "id => document.dispatchEvent(new CustomEvent('console:message', {detail: {conversation_id: id, direction: 'inbound'}}))",
        ids["main"],
    )
    expect(page.locator("#thread-live")).to_contain_text("New message from")
    page.get_by_role("button", name="Send reply").click()
    collision = page.locator("#collision")
    expect(collision).to_be_visible()
    expect(collision).to_contain_text("1 new message since you opened this thread")
    expect(collision).to_contain_text("Oh wait, it just arrived!")
    assert seller_posts(sim) == before + 1  # held: nothing posted
    page.locator("#threads").evaluate("list => list.scrollTop = 0")
    screenshot(page, "conversations")

    body.fill("Great news, enjoy the gig on Saturday!")
    page.get_by_role("button", name="Send anyway").click()
    expect(collision).to_be_hidden()
    expect(page.locator("#messages .cs-outbound")).to_have_count(2)
    assert seller_posts(sim) == before + 2
    assert [m.body for m in reverb.conversation(remote).messages if m.sender_role == "seller"][-1] == (
        "Great news, enjoy the gig on Saturday!"
    )

    # 3. Shortcuts: leave the textarea, `e` resolves and opens the next thread, `k` goes back up.
    body.press("Escape")
    page.reload()  # the list as it is now: our replies made this thread the newest
    expect(page.locator("#messages .cs-outbound")).to_have_count(2)
    listed = page.locator("#threads .cs-thread").evaluate_all("items => items.map(i => i.dataset.id)")
    assert listed[0] == str(ids["main"])
    page.keyboard.press("e")
    expect(page.locator("#threads .cs-thread.current")).to_have_attribute("data-id", listed[1])
    page.wait_for_load_state()
    with engine.connect() as conn:
        status = conn.scalar(
            text("SELECT status FROM retail.conversations WHERE id = :id"), {"id": ids["main"]}
        )
    assert status == "resolved"
    page.keyboard.press("j")
    expect(page.locator("#threads .cs-thread.current")).to_have_attribute("data-id", listed[2])
    page.wait_for_load_state()
    page.keyboard.press("k")
    expect(page.locator("#threads .cs-thread.current")).to_have_attribute("data-id", listed[1])
