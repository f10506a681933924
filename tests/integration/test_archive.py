"""Archiving closed order streams to cold storage on the real databases: an archived order's
history, as-of and at-version reads equal what they were; the archiver killed after every one
of its steps and run again loses and doubles nothing; a command on an archived order is a 409;
restore_stream brings it back exactly; forgetting the customer makes the archived copy
unreadable; open orders, and events a projection has not applied, stay in the log."""

from __future__ import annotations

import gzip
import re
import threading
import time
from datetime import timedelta
from functools import partial
from io import StringIO
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from uuid import UUID, uuid4

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from archive.procedure import STEPS, archive_due, archive_stream
from archive.restoring import restore_stream
from eventlog import cold
from eventlog.models import ArchivedStream, Snapshot, StoredEvent
from eventlog.store import StreamVersionConflict, event_store
from kernel.errors import StreamArchived
from orders.commands import ForgetCustomer
from orders.events import OrderDelivered
from projector.loop import read_database
from projector.models import DeadLetter, ProjectionCheckpoint
from projector.partitions import partition_of_bucket
from projector.status import applied_through
from readmodels.selectors.history import order_as_of, order_at_version, order_history
from tests.factories import CreateOrderFactory, DeadLetterFactory, DeliverOrderFactory
from tests.support import archiving
from tests.support.grants import documented_grants
from tests.support.read_side import ON_BOTH_DATABASES, read_models
from tests.support.services import Service
from tests.support.waiting import eventually
from tests.support.workload import drive_orders
from writeside.bus import handle

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.usefixtures("cold_storage")]
EMAIL = "archived-7q3z@example.org"
LATER = timedelta(days=10_000)
SQLITE_COMPARED = ("orders", "products", "notifications", "payment_deadlines")


# An order placed with the e-mail, confirmed, paid, shipped and delivered.
delivered_order = partial(archiving.delivered_order, customer_email=EMAIL)


def as_read(order_id: UUID) -> dict[str, Any]:
    """Everything the history endpoints serve of an order, to compare before and after."""
    events = event_store().read_stream(str(order_id))
    return {
        "events": [
            (e.event_id, e.position, e.version, e.event_type, e.data, e.metadata, e.recorded_at) for e in events
        ],
        "history": order_history(order_id, limit=1000),
        "versions": [order_at_version(order_id, version) for version in range(1, len(events) + 1)],
        "as_of": [order_as_of(order_id, event.recorded_at) for event in events],
    }


def hot(order_id: UUID) -> int:
    return StoredEvent.objects.filter(stream_id=str(order_id)).count()


@ON_BOTH_DATABASES
def test_an_archived_order_reads_as_it_did_and_leaves_the_log(vendor: str) -> None:
    assert connection.vendor == vendor
    order_id = delivered_order()
    before = as_read(order_id)
    outcome = archive_due(now=timezone.now() + LATER)
    assert outcome.archived == [str(order_id)]
    assert hot(order_id) == 0
    assert ArchivedStream.objects.get(stream_id=str(order_id)).status == ArchivedStream.Status.ARCHIVED
    assert as_read(order_id) == before
    assert archive_due(now=timezone.now() + LATER).archived == []  # nothing twice


@ON_BOTH_DATABASES
@pytest.mark.parametrize("killed_after", [*STEPS[:3], "deleted", STEPS[3]])
def test_the_archiver_killed_after_any_step_and_run_again_loses_and_doubles_nothing(
    vendor: str, killed_after: str
) -> None:
    assert connection.vendor == vendor
    order_id = delivered_order()
    before = as_read(order_id)

    class Killed(BaseException):
        pass

    def kill(step: str, _stream: str) -> None:
        if step == killed_after:
            raise Killed

    with pytest.raises(Killed):
        archive_due(now=timezone.now() + LATER, step=kill)
    # Until it is run again the order is served from wherever its events are, all of them once.
    assert as_read(order_id) == before
    archive_due(now=timezone.now() + LATER)
    assert hot(order_id) == 0
    assert as_read(order_id) == before
    restore_stream(str(order_id))
    assert as_read(order_id) == before
    assert hot(order_id) == len(before["events"])


@ON_BOTH_DATABASES
@pytest.mark.parametrize("killed_after", [*STEPS[:3], "deleted", STEPS[3]])
def test_an_archiver_killed_in_its_second_round_loses_and_doubles_nothing_of_either_round(
    vendor: str, killed_after: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rounds of three streams, read together: an open order shares the first round with two
    delivered ones (it stays, they go), the kill comes in the second round, and the run again
    finishes the second round without touching the first."""
    assert connection.vendor == vendor
    monkeypatch.setattr("archive.procedure.WRITE_BATCH", 3)
    first = delivered_order()
    open_order = CreateOrderFactory()
    handle(open_order)
    delivered = [first, delivered_order(), delivered_order(), delivered_order()]
    before = {order_id: as_read(order_id) for order_id in [*delivered, open_order.order_id]}
    in_second_round = {str(order_id) for order_id in delivered[2:]}

    class Killed(BaseException):
        pass

    def kill(step: str, stream: str) -> None:
        if step == killed_after and stream in in_second_round:
            raise Killed

    with pytest.raises(Killed):
        archive_due(now=timezone.now() + LATER, step=kill)
    assert [hot(order_id) for order_id in delivered[:2]] == [0, 0]  # the first round is done
    assert {order_id: as_read(order_id) for order_id in before} == before
    outcome = archive_due(now=timezone.now() + LATER)
    assert set(outcome.archived) <= in_second_round
    assert outcome.events == sum(len(before[UUID(stream)]["events"]) for stream in outcome.archived)
    assert [hot(order_id) for order_id in delivered] == [0, 0, 0, 0]
    assert hot(open_order.order_id) == len(before[open_order.order_id]["events"])
    assert ArchivedStream.objects.filter(status=ArchivedStream.Status.ARCHIVED).count() == 4
    assert {order_id: as_read(order_id) for order_id in before} == before


@pytest.mark.postgres
def test_a_rounds_streams_are_read_together_not_one_by_one() -> None:
    """A round of six streams asks the databases as many queries as a round of two (the
    rows, snapshots, manifest rows and keys of the round in one query each): counts, no timing."""

    def queries_archiving(orders: int) -> int:
        for _ in range(orders):
            delivered_order()
        with (
            CaptureQueriesContext(connections["default"]) as log,
            CaptureQueriesContext(connections[read_database()]) as read_log,
        ):
            assert len(archive_due(now=timezone.now() + LATER).archived) == orders
        if connections["default"].settings_dict == connections[read_database()].settings_dict:
            return len(log.captured_queries)  # one database: both contexts saw the same queries
        return len(log.captured_queries) + len(read_log.captured_queries)

    assert queries_archiving(6) == queries_archiving(2)


@ON_BOTH_DATABASES
def test_a_command_on_an_archived_order_is_refused_and_restore_brings_it_back_exactly(vendor: str) -> None:
    assert connection.vendor == vendor
    order_id = delivered_order()
    rows = list(StoredEvent.objects.filter(stream_id=str(order_id)).order_by("position").values())
    archive_due(now=timezone.now() + LATER)
    with pytest.raises(StreamArchived, match="archived"):
        handle(DeliverOrderFactory(order_id=order_id))
    with pytest.raises(StreamArchived):
        handle(CreateOrderFactory(order_id=order_id))
    assert hot(order_id) == 0
    call_command("restore_stream", str(order_id), verbosity=0)
    assert list(StoredEvent.objects.filter(stream_id=str(order_id)).order_by("position").values()) == rows
    assert not ArchivedStream.objects.filter(stream_id=str(order_id)).exists()


@pytest.mark.postgres
def test_the_api_answers_409_for_a_command_on_an_archived_order(client: Any) -> None:
    from tests.factories import StaffUserFactory, token_for

    order_id = delivered_order()
    archive_due(now=timezone.now() + LATER)
    user = StaffUserFactory(permissions=["orders.cancel_order"])
    response = client.post(
        f"/api/orders/{order_id}/cancel/",
        {"reason": "late"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token_for(user)}",
    )
    assert response.status_code == 409, response.content
    assert response.json()["type"].endswith("/archived")
    assert "restore_stream" in response.json()["detail"]


@ON_BOTH_DATABASES
def test_forgetting_the_customer_makes_the_archived_copy_unreadable(vendor: str, cold_storage: Path) -> None:
    assert connection.vendor == vendor
    order_id = delivered_order(customer_id="c-forget-archived")
    archive_due(now=timezone.now() + LATER)
    created = event_store().read_stream(str(order_id), to_version=1)[0]
    assert created.data["customer_email"] == EMAIL
    # Sealed in the segment itself: the bytes never hold the address in the clear.
    assert all(EMAIL.encode() not in gzip.decompress(path.read_bytes()) for path in cold_storage.rglob("*.seg.gz"))
    handle(ForgetCustomer(customer_id="c-forget-archived"))
    cold._cache.clear()
    created = event_store().read_stream(str(order_id), to_version=1)[0]
    assert created.data["customer_email"] is None


@ON_BOTH_DATABASES
def test_open_orders_and_events_not_applied_everywhere_stay_in_the_log(vendor: str) -> None:
    assert connection.vendor == vendor
    open_order = CreateOrderFactory()
    handle(open_order)
    delivered = delivered_order()
    # One projection's partition is behind the delivered order's last event: it may still read it.
    last = StoredEvent.objects.filter(stream_id=str(delivered)).order_by("-position").first()
    assert last is not None
    checkpoint = ProjectionCheckpoint.objects.get(projection="sales", partition=partition_of_bucket(last.bucket))
    behind, checkpoint.position = checkpoint.position, last.position - 1
    checkpoint.save()
    assert archive_due(now=timezone.now() + LATER).archived == []
    checkpoint.position = behind
    checkpoint.save()
    assert archive_due(now=timezone.now() + LATER).archived == [str(delivered)]
    assert archive_stream(str(open_order.order_id)) is not None
    assert hot(open_order.order_id) > 0
    assert archive_due(now=timezone.now()).archived == []  # not old enough


@pytest.mark.postgres
def test_the_database_removes_only_events_a_verified_segment_covers() -> None:
    order_id = delivered_order()
    other = delivered_order()
    with pytest.raises(_Stop):
        archive_stream(str(order_id), step=_stop_after("recorded"))
    with connection.cursor() as cursor:
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            cursor.execute("DELETE FROM eventlog_storedevent WHERE stream_id = %s", [str(other)])
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            cursor.execute(
                "UPDATE eventlog_storedevent SET event_type = 'Forged' WHERE stream_id = %s", [str(order_id)]
            )
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            cursor.execute("TRUNCATE eventlog_storedevent")
    assert hot(order_id) == 5
    assert hot(other) == 5


class _Stop(BaseException):
    """The archiver stopped where a test asked."""


def _stop_after(wanted: str) -> Any:
    def step(name: str, _stream: str) -> None:
        if name == wanted:
            raise _Stop

    return step


@ON_BOTH_DATABASES
def test_snapshots_travel_with_the_stream(vendor: str, settings: Any) -> None:
    assert connection.vendor == vendor
    settings.SNAPSHOT_EVERY = 2
    order_id = delivered_order()
    snapshot = Snapshot.objects.filter(stream_id=str(order_id)).values("version", "state").first()
    assert snapshot is not None
    archive_due(now=timezone.now() + LATER)
    assert not Snapshot.objects.filter(stream_id=str(order_id)).exists()
    restore_stream(str(order_id))
    assert Snapshot.objects.filter(stream_id=str(order_id)).values("version", "state").first() == snapshot


@ON_BOTH_DATABASES
@pytest.mark.parametrize("batch", [500, 3])
def test_a_rebuild_replays_the_archive_and_the_log_and_gives_the_live_tables(
    vendor: str, batch: int, settings: Any
) -> None:
    """In batches larger than the log and in batches of 3, where windows of the log and the
    segments they reach cut each other."""
    assert connection.vendor == vendor
    settings.REBUILD_BATCH_SIZE = settings.PROJECTION_BATCH_SIZE = batch
    drive_orders(12, seed=7)
    handle(CreateOrderFactory(customer_id="c-rebuilt-0"))  # a customer with an open order too
    # Delivered last: the log's last events are archived, and a replay's head must count them.
    delivered = [delivered_order(customer_id=f"c-rebuilt-{n}") for n in range(3)]
    before = read_models()
    archived = archive_due(now=timezone.now() + LATER).archived
    assert set(delivered) <= {UUID(stream) for stream in archived}
    hot_head = StoredEvent.objects.order_by("-position").values_list("position", flat=True).first()
    assert hot_head is not None
    assert ArchivedStream.objects.filter(last_position__gt=hot_head).exists()
    assert StoredEvent.objects.count() > 0  # open orders and products stay in the log
    assert read_models() == before  # archiving leaves the read models alone
    assert verify_exit() == 0
    call_command("rebuild_projections", verbosity=0)
    assert read_models() == before
    assert verify_exit() == 0


def verify_exit() -> int:
    """`manage.py verify`'s read-model check: 0 when a fresh replay equals the live tables.

    On SQLite the sales projection is left out: its daily sales differ from a replay there
    with or without archiving (the workload alone shows it), a divergence of its own."""
    projections = [] if connection.vendor == "postgresql" else SQLITE_COMPARED
    options = [arg for name in projections for arg in ("--projection", name)]
    try:
        call_command("verify", "--check", "read-models", *options, "--wait", "0", stdout=(out := StringIO()))
    except CommandError as error:
        print(out.getvalue())  # shown with the failure
        return int(error.returncode)
    return 0


def documented_archiver_grants() -> str:
    """The SQL block docs/architecture.md gives the owner for the archiver's role."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "architecture.md").read_text()
    match = re.search(r"<!-- tests/integration/test_archive.py [^>]*-->\s*```sql\n(.*?)```", text, re.S)
    assert match, "docs/architecture.md lost the archiver's grants"
    return match.group(1)


@pytest.mark.postgres
def test_only_the_archivers_role_removes_events_and_the_apps_role_still_cannot() -> None:
    archived, covered = delivered_order(), delivered_order()
    with pytest.raises(_Stop):  # `covered` left verified: the database would let its DELETE through
        archive_stream(str(covered), step=_stop_after("recorded"))
    archiver, app = f"test_archiver_{uuid4().hex[:10]}", f"test_app_{uuid4().hex[:10]}"
    with connection.cursor() as cursor:
        try:
            cursor.execute(f"CREATE ROLE {archiver} NOLOGIN")
            cursor.execute(f"CREATE ROLE {app} NOLOGIN")
            cursor.execute(documented_archiver_grants().replace("backoffice_archiver", archiver))
            cursor.execute(documented_grants().replace("backoffice_app", app))
            cursor.execute(f"SET ROLE {app}")
            for sql in (
                "DELETE FROM eventlog_storedevent WHERE stream_id = %s",
                "UPDATE eventlog_archivedstream SET status = 'verified' WHERE stream_id = %s",
            ):
                with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
                    cursor.execute(sql, [str(covered)])
            cursor.execute(f"SET ROLE {archiver}")
            assert archive_stream(str(archived)) is None
            assert hot(archived) == 0
            restore_stream(str(archived))
            assert hot(archived) == 5
        finally:
            cursor.execute("RESET ROLE")
            for role in (archiver, app):
                cursor.execute(f"DROP OWNED BY {role}")
                cursor.execute(f"DROP ROLE {role}")
    assert hot(covered) == 5


@pytest.mark.postgres
def test_archiving_while_a_worker_projects_and_commands_commit_loses_and_doubles_nothing(
    worker: Service, beat: Service, cold_storage: Path
) -> None:
    """A live Celery worker projects (and beat catches up) while a writer places and delivers
    orders and the archiver runs again and again: every stream ends with each of its events
    once (hot or archived), the engine never skips one (the read models equal a replay of the
    whole log), and an order archived mid-way took no event after its segment."""
    placed: list[tuple[UUID, int]] = []
    stop = threading.Event()

    def writer() -> None:
        try:
            while not stop.is_set() or len(placed) < 12:
                placed.append((delivered_order(customer_id=f"c-live-{len(placed) % 4}"), 5))
                create = CreateOrderFactory(customer_id=f"c-live-{len(placed) % 4}")
                handle(create)
                placed.append((create.order_id, 1))
        finally:
            connections.close_all()

    thread = threading.Thread(target=writer)
    thread.start()
    archived: set[str] = set()
    try:
        deadline = time.monotonic() + 60
        while len(archived) < 4 and time.monotonic() < deadline:
            archived.update(archive_due(now=timezone.now() + LATER).archived)
    finally:
        stop.set()
        thread.join(timeout=120)
    assert len(archived) >= 4, "the archiver found delivered orders applied by every projection"
    head = event_store().head_position()
    eventually(lambda: applied_through(head), timeout=60, message="the worker to apply the log", log=worker.log)
    archived.update(archive_due(now=timezone.now() + LATER).archived)
    for order_id, count in placed:
        versions = [event.version for event in event_store().read_stream(str(order_id))]
        assert versions == list(range(1, count + 1)), order_id
        in_log = StoredEvent.objects.filter(stream_id=str(order_id)).count()
        assert in_log == (0 if str(order_id) in archived else count)
    assert verify_exit() == 0


@pytest.mark.postgres
def test_the_api_serves_an_archived_orders_history_as_of_and_version_and_the_admin_says_archived(
    client: Any,
) -> None:
    from tests.factories import SuperuserFactory, token_for

    order_id = delivered_order()
    events = event_store().read_stream(str(order_id))
    user = SuperuserFactory()
    auth = {"HTTP_AUTHORIZATION": f"Token {token_for(user)}"}
    urls = [
        f"/api/orders/{order_id}/history/",
        f"/api/orders/{order_id}/history/?after_version=2&limit=2",
        *(f"/api/orders/{order_id}/?version={version}" for version in range(1, len(events) + 1)),
        *(f"/api/orders/{order_id}/?{urlencode({'as_of': e.recorded_at.isoformat()})}" for e in events),
    ]
    before = {url: client.get(url, **auth) for url in urls}
    assert all(response.status_code == 200 for response in before.values())
    archive_due(now=timezone.now() + LATER)
    assert hot(order_id) == 0
    for url, response in before.items():
        after = client.get(url, **auth)
        assert (after.status_code, after.json()) == (200, response.json()), url
    client.force_login(user)
    # The old detail address leads to the order's page, which says where its events went.
    page = client.get(f"/admin/readmodels/orderdetail/{order_id}/change/", follow=True)
    assert page.status_code == 200
    assert 'id="action-' not in page.content.decode()  # an archived order takes no command
    assert "id='archived'" in page.content.decode() or 'id="archived"' in page.content.decode()
    assert f"restore_stream {order_id}" in page.content.decode()


class CorruptingStorage(FileSystemStorage):
    """A disk that flips one bit of what it is given: the read back must catch it."""

    def _save(self, name: str, content: Any) -> str:
        data = bytearray(content.read())
        data[len(data) // 2] ^= 0x01
        saved: str = super()._save(name, ContentFile(bytes(data)))  # type: ignore[misc]
        return saved


@ON_BOTH_DATABASES
def test_a_segment_that_does_not_read_back_as_written_removes_nothing(
    vendor: str, settings: Any, cold_storage: Path
) -> None:
    assert connection.vendor == vendor
    order_id = delivered_order()
    before = as_read(order_id)
    settings.STORAGES = {
        **settings.STORAGES,
        "archive": {"BACKEND": f"{__name__}.CorruptingStorage", "OPTIONS": {"location": str(cold_storage)}},
    }
    with pytest.raises(cold.CorruptSegment):
        archive_due(now=timezone.now() + LATER)
    assert hot(order_id) == 5
    assert not ArchivedStream.objects.exists()
    assert as_read(order_id) == before


@ON_BOTH_DATABASES
def test_manage_py_archive_streams_archives_what_is_due_and_keeps_a_stream_a_projection_holds_a_letter_of(
    vendor: str, settings: Any
) -> None:
    assert connection.vendor == vendor
    settings.ARCHIVE_AFTER_DAYS = 0  # closed is old enough: the command runs on the real clock
    held, due = delivered_order(), delivered_order()
    last = StoredEvent.objects.filter(stream_id=str(held)).order_by("-position").first()
    assert last is not None
    # A parked letter: a retry would re-read the stream from the log.
    DeadLetterFactory(
        projection="sales",
        position=last.position,
        event_id=last.event_id,
        event_type=last.event_type,
        stream_id=str(held),
        status=DeadLetter.Status.PARKED,
    )
    out = StringIO()
    call_command("archive_streams", stdout=out)
    assert "archived 1 streams (5 events)" in out.getvalue()
    assert hot(due) == 0
    assert hot(held) == 5


@ON_BOTH_DATABASES
def test_a_writer_that_loaded_the_order_before_it_was_archived_cannot_append_after(vendor: str) -> None:
    """The database, not only the repository, refuses the stream's next event: a command
    that read the order just before the archiver removed it appends at version 6, which no
    unique constraint catches any more (versions 1 to 5 left the log)."""
    assert connection.vendor == vendor
    order_id = delivered_order()
    archive_due(now=timezone.now() + LATER)
    store = event_store()
    with pytest.raises(StreamVersionConflict), transaction.atomic():
        store.append(str(order_id), "order", 5, [OrderDelivered(order_id=order_id)])
    with pytest.raises(StreamVersionConflict), transaction.atomic():
        store.append(str(order_id), "order", 0, [OrderDelivered(order_id=order_id)])
    assert hot(order_id) == 0
    restore_stream(str(order_id))
    assert [event.version for event in event_store().read_stream(str(order_id))] == [1, 2, 3, 4, 5]
