"""A site node's sync screen (issue 19, docs/sync.md): where the node stands (last sync, batches waiting, lease),
the *Sync now* button and the outcome of the last sync (the button's or the periodic one's). Counts only, no
personal data. For the node's admins and registrars; on a central registry the screen says it is not a node."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from carekey.interfaces.web.render import page
from carekey.interfaces.web.security import require_csrf
from carekey.interfaces.web.session import require_staff, services
from carekey.policy.decision import Action
from carekey.services.sync_node import SyncOutcome

router = APIRouter(prefix="/node")


def node_id_of(request: Request) -> str | None:
    """The node id when this server serves a site node, else None."""
    with services(request).deps.uow(read_only=True) as uow:
        state = uow.sync.node_state()
    return state.node_id if state is not None else None


def is_node(request: Request) -> bool:
    """This server serves a site node (its home screens link to the sync screen)."""
    return node_id_of(request) is not None


def _show(request: Request, outcome: SyncOutcome | None = None, status: int = 200):
    runner = request.app.state.node_sync
    with services(request).deps.uow(read_only=True) as uow:
        state = uow.sync.node_state()
        waiting = len(uow.sync.outbox()) if state is not None else 0
    return page(
        request,
        "node.html",
        status,
        state=state,
        waiting=waiting,
        unlocked=runner is not None,
        running=runner is not None and runner.running,
        outcome=outcome or (runner.last if runner is not None else None),
    )


@router.get("")
def show(request: Request):
    require_staff(request, Action.SYNC_NODE)
    return _show(request)


@router.post("/sync", dependencies=[Depends(require_csrf)])
async def sync_now(request: Request):
    actor = require_staff(request, Action.SYNC_NODE)
    runner = request.app.state.node_sync
    if runner is None:
        return _show(request, status=409)
    outcome = await run_in_threadpool(runner.button, actor)
    return _show(request, outcome, 200 if outcome.ok else 502)
