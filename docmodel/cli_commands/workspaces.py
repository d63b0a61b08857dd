"""``docmodel workspaces list|remove ID|prune --older-than DAYS [--data-dir DIR]``: the operator's
view of the app's workspaces (:mod:`docmodel.workspace`).

``prune`` is what to schedule (cron, a systemd timer) on a server whose app runs with
``--keep-days 0``; the app prunes by itself otherwise. Neither ``remove`` nor ``prune`` touches a
workspace with a training run queued or running.
"""

from __future__ import annotations

import json
import sys
import time

from docmodel.workspace import DEFAULT_KEEP_DAYS, Store, default_data_dir, prune, remove, summaries
from docmodel.workspace.files import fmt_bytes


def add_arguments(p) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    data_help = f"the app's data directory (default: $DOCMODEL_DATA_DIR, else the per-user data folder; here {default_data_dir()})"
    listing = sub.add_parser("list", help="list the workspaces, most recently used first",
                             description="List the workspaces, most recently used first.")
    listing.add_argument("--data-dir", help=data_help)
    listing.add_argument("--json", action="store_true", help="one JSON object per workspace, one per line")
    removing = sub.add_parser("remove", help="remove one workspace", description="Remove one workspace.")
    removing.add_argument("id", help="the workspace id (the 'workspace' of the app's address)")
    removing.add_argument("--data-dir", help=data_help)
    pruning = sub.add_parser("prune", help="remove the workspaces unused for some days",
                             description="Remove the workspaces neither opened nor changed for DAYS days.")
    pruning.add_argument("--older-than", type=float, default=DEFAULT_KEEP_DAYS, metavar="DAYS",
                         help=f"days without use (default {DEFAULT_KEEP_DAYS})")
    pruning.add_argument("--dry-run", action="store_true", help="only list what would be removed")
    pruning.add_argument("--data-dir", help=data_help)


def _ago(t: float, now: float) -> str:
    if not t:
        return "-"
    seconds = max(0.0, now - t)
    if seconds >= 86_400:
        return f"{seconds / 86_400:.1f} days ago"
    return f"{seconds / 3600:.1f} hours ago" if seconds >= 3600 else f"{seconds // 60:.0f} min ago"


def run(args) -> int:
    store = Store(args.data_dir or default_data_dir(), quota_mb=None)
    now = time.time()
    if args.action == "list":
        found = summaries(store)
        if args.json:
            for s in found:
                print(json.dumps(s.to_dict()))
            return 0
        if not found:
            print(f"no workspaces in {store.folder}", file=sys.stderr)
            return 0
        print(f"{'id':22}  {'last used':>16}  {'size':>9}  {'models':>6}  {'training':>8}  corpus")
        for s in found:
            training = str(s.live_runs) if s.live_runs else "-"
            corpus = s.problem or s.corpus or "-"
            print(f"{s.id:22}  {_ago(s.touched, now):>16}  {fmt_bytes(s.bytes):>9}  {s.n_models:>6}  {training:>8}  {corpus}")
        total = sum(s.bytes for s in found)
        print(f"{len(found)} workspaces, {fmt_bytes(total)} in {store.folder}", file=sys.stderr)
        return 0
    if args.action == "remove":
        s = remove(store, args.id)
        print(f"removed workspace {s.id} ({fmt_bytes(s.bytes)}, {s.n_models} models)")
        return 0
    removed, busy = prune(store, args.older_than, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for s in removed:
        print(f"{verb} {s.id} (last used {_ago(s.touched, now)}, {fmt_bytes(s.bytes)})")
    for s in busy:
        print(f"kept {s.id}: a training run is going on in it", file=sys.stderr)
    print(f"{verb} {len(removed)} workspaces unused for {args.older_than:g} days or more "
          f"({fmt_bytes(sum(s.bytes for s in removed))})", file=sys.stderr)
    return 0
