"""``narrate outbox``: the deliveries waiting for a retry (listed, retried now, or dropped on purpose).

A delivery that failed (``--to`` on ``report`` or ``digest``) waits in the outbox of the user data dir and is
retried at the start of every run that delivers; this verb shows what waits and why, retries it without
writing a report, or drops an entry that can never arrive (e.g. a webhook that was deleted).
"""

from __future__ import annotations

import click

from narrator.cli.common import EXIT_DELIVERY, verbose_option


@click.group("outbox", invoke_without_command=True)
@click.pass_context
@verbose_option
def outbox_group(ctx: click.Context) -> None:
    """Deliveries waiting for a retry (default: list them)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(outbox_list)


@outbox_group.command("list")
@verbose_option
def outbox_list() -> None:
    """List the waiting deliveries: key, destination, attempts, last error."""
    from narrator.app.delivery import config_keys
    from narrator.delivery import data_dir, outbox_entries
    from narrator.git.text import one_line

    entries = outbox_entries()
    if not entries:
        click.echo(f"narrate: the outbox is empty ({data_dir() / 'outbox'})")
        return
    for entry in entries:
        shown = entry.data.get("shown") or entry.destination
        click.echo(one_line(f"{entry.key}  {shown}  {entry.title}  waiting since {entry.created_at}, "
                            f"{entry.attempts} attempt(s): {config_keys(entry.last_error)}"))


@outbox_group.command("retry")
@verbose_option
def outbox_retry() -> None:
    """Try every waiting delivery once now, with the current settings (exit 3 when some still wait)."""
    from narrator.app.delivery import DeliveryPlan, flush, smtp_settings
    from narrator.cli.deliver import print_results
    from narrator.config import load_settings
    from narrator.delivery import RetryPolicy, WebhookSettings

    settings = load_settings(None)
    mail = smtp_settings(settings)
    plan = DeliveryPlan(destinations=(), smtp=mail if mail.from_addr.strip() else None,
                        webhook=WebhookSettings(timeout=settings.delivery.webhook.timeout_s,
                                                cafile=settings.delivery.webhook.cafile),
                        retry=RetryPolicy(attempts=1))
    results = flush(plan)
    if not results:
        click.echo("narrate: the outbox is empty")
        return
    if not print_results(results, "outbox"):
        click.get_current_context().exit(EXIT_DELIVERY)


@outbox_group.command("drop")
@click.argument("keys", nargs=-1, metavar="KEY...")
@click.option("--all", "drop_all", is_flag=True, help="Drop every waiting delivery.")
@verbose_option
def outbox_drop(keys: tuple[str, ...], drop_all: bool) -> None:
    """Remove waiting deliveries (their keys are in `narrate outbox list`); they will not be retried."""
    from narrator.delivery import discard, outbox_entries
    from narrator.errors import UsageError

    if drop_all:
        keys = tuple(e.key for e in outbox_entries())
    if not keys:
        raise UsageError("give the KEY of a waiting delivery (see `narrate outbox list`) or --all")
    for key in keys:
        if not discard(key):
            raise UsageError(f"no waiting delivery with key {key}; see `narrate outbox list`")
        click.echo(f"narrate: dropped {key}")
