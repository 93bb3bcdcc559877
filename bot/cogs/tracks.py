"""The compose conversation: acknowledge, show progress, deliver the track or say why not; and
every button under a track, a suggestion or an interrupted job. Decisions are the core's."""

from __future__ import annotations

import asyncio
import io
import logging
from typing import TYPE_CHECKING, cast

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.compose import ComposeService
from bot.core.formats import track_filename
from bot.core.jam import Jam
from bot.core.jams import Jams
from bot.core.orders import ComposeOrder
from bot.core.outcomes import (
    Accepted,
    Composed,
    Delivered,
    Failed,
    Outcome,
    PlanRefused,
    PromptRefused,
    UploadRefused,
)
from bot.core.plans import PlanService
from bot.core.refusals import NotInServer, Refused
from bot.core.track_orders import ButtonOrder, TrackOrders
from bot.delivery import (
    ProgressMessage,
    ProgressReporter,
    find_track_message,
    report,
)
from bot.music import MusicPrompt
from bot.tree import choices, requester, send_ephemeral, upload_limit
from bot.ui import text, waveform
from bot.ui.buttons import (
    RedoSectionMenu,
    RetryButton,
    UseSuggestionButton,
    track_view,
)
from bot.ui.embeds import plan_embed, plan_file, suggestion_embed, track_embed
from bot.ui.plan_buttons import plan_view
from bot.ui.waveform import waveform_png

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

PROGRESS_INTERVAL = 5.0
# Discord's most files in one message.
MAX_FILES = 10


async def accept_button(
    compose: ComposeService, interaction: discord.Interaction, found: ButtonOrder | Refused
) -> Accepted | None:
    """A button's order accepted for its presser (quota, owner, once-claim), or None after
    telling them why not."""
    if isinstance(found, Refused):
        await send_ephemeral(interaction, text.refusal(found.reason))
        return None
    accepted = await compose.accept(
        requester(interaction),
        found.order,
        upload_limit(interaction),
        owner_id=found.owner_id,
        once=found.once,
    )
    if isinstance(accepted, Refused):
        await send_ephemeral(interaction, text.refusal(accepted.reason))
        return None
    return accepted


class TracksCog(commands.Cog):
    def __init__(
        self,
        bot: commands.AutoShardedBot,
        services: Services,
        *,
        progress_interval: float = PROGRESS_INTERVAL,
    ) -> None:
        self.bot = bot
        self._compose: ComposeService = services.compose
        self._orders: TrackOrders = services.track_orders
        self._plans: PlanService = services.plans
        self._jams: Jams = services.jams
        self._progress_interval = progress_interval
        self._uploads = services.uploads

    # -- /music compose -----------------------------------------------------------------------

    async def compose(self, interaction: discord.Interaction, order: ComposeOrder) -> None:
        """`/music compose`: everything before the defer is quick (in memory, one DB write)."""
        if interaction.guild is None:
            await send_ephemeral(interaction, text.refusal(NotInServer("compose")))
            return
        who = requester(interaction)
        accepted = await self._compose.accept(who, order, upload_limit(interaction))
        if isinstance(accepted, Refused):
            await send_ephemeral(interaction, text.refusal(accepted.reason))
            return
        try:
            deferred = await interaction.response.defer(thinking=True)
        except discord.HTTPException:
            await self._compose.abandon(accepted)
            raise
        progress = ProgressMessage(
            interaction, original_id=deferred.message_id if deferred is not None else None
        )
        # A member listening to this server's jam adds the track to it.
        member = interaction.user
        voice = member.voice if isinstance(member, discord.Member) else None
        channel = voice.channel if voice is not None else None
        jam = self._jams.jam_for(who.guild_id, channel.id if channel is not None else None)
        await self._run(progress, accepted, jam=jam)

    async def _run(
        self, progress: ProgressMessage, accepted: Accepted, *, jam: Jam | None = None
    ) -> Outcome:
        """Compose to a settled outcome, then tell the member."""
        order = accepted.order
        reporter = ProgressReporter(
            progress,
            order.headline,
            order.length_s,
            self._progress_interval,
            playing_in=jam.voice_channel_id if jam is not None else None,
        )

        async def deliver(composed: Composed) -> bool:
            await reporter.stop()
            return await self._deliver(progress, composed)

        try:
            outcome = await self._compose.compose(
                accepted, reporter, deliver, jam=jam, reply=progress.reply()
            )
        finally:
            await reporter.stop()
        await self._tell(progress, outcome)
        return outcome

    async def _deliver(self, progress: ProgressMessage, composed: Composed) -> bool:
        interaction, track, order = progress.interaction, composed.track, composed.order
        embed = track_embed(
            headline=order.headline,
            length_s=order.length_s,
            requester=interaction.user,
            metadata=track.metadata,
            plan=composed.plan,
            output_format=track.output_format or "",
            tracks_left=composed.reservation.tracks_left,
            window_hours=composed.reservation.window_hours,
        )
        filename = track_filename(track.title, order.headline)
        image = await asyncio.to_thread(
            waveform_png,
            composed.waveform,
            title=track.title or order.headline,
            length_s=order.length_s,
        )
        embed.set_image(url=waveform.ATTACHMENT_URL)
        async with self._uploads.hold(track.size + len(image)):
            delivered = await report(
                progress,
                late_note=text.LATE_TRACK,
                content=None,
                embed=embed,
                view=track_view(composed.job.id, inpainting=composed.editable),
                attachments=lambda: [
                    # A fresh File each time: a failed upload leaves the previous one consumed.
                    discord.File(cast(io.BufferedIOBase, track.audio.fileobj()), filename=filename),
                    discord.File(io.BytesIO(image), filename=waveform.FILENAME),
                ],
            )
        if delivered:
            log.info(
                "job delivered %s (%d bytes) to %s", filename, track.size, interaction.channel_id
            )
        return delivered

    async def _tell(self, progress: ProgressMessage, outcome: Outcome) -> None:
        """What the member reads once the job is settled ("nothing was taken" is true)."""
        match outcome:
            case Delivered():
                return
            case UploadRefused():
                await progress.try_edit(
                    content=text.UPLOAD_REFUSED, embed=None, attachments=[], view=None
                )
            case Failed(cause=cause):
                await report(progress, content=text.compose_failure(cause))
            case PromptRefused():
                await report(
                    progress,
                    content=None,
                    embed=suggestion_embed(prompt=outcome.headline, suggestion=outcome.suggestion),
                    view=UseSuggestionButton.as_view(outcome.suggestion_id),
                )
            case PlanRefused(plan_id=None) | PlanRefused(plan=None):
                await report(progress, content=text.NO_USABLE_PLAN)
            case PlanRefused(plan_id=str(plan_id), plan=plan):
                assert plan is not None
                embed, left_out = plan_embed(
                    plan, heading=text.PLAN_SUGGESTION_HEADING, note=text.PLAN_SUGGESTION_NOTE
                )
                view = plan_view(
                    plan_id, has_global_styles=isinstance(plan, MusicPrompt), suggested=True
                )
                shown = await report(
                    progress,
                    content=None,
                    embed=embed,
                    view=view,
                    attachments=(lambda: [plan_file(plan)]) if left_out else None,
                )
                message_id = await progress.message_id() if shown else None
                if message_id is not None:
                    # So an edit of the suggested plan redraws this message.
                    await self._plans.set_message(plan_id, message_id)

    # -- buttons ------------------------------------------------------------------------------

    async def compose_for_button(
        self,
        interaction: discord.Interaction,
        found: ButtonOrder | Refused,
        *,
        clear_menu: bool = False,
    ) -> None:
        """Compose for a button's owner (or a moderator, charged to them) in a new message.

        A compose-once button is shown spent at once, and usable again when its track is not
        delivered. `clear_menu` empties the pressed message (a private menu).
        """
        accepted = await accept_button(self._compose, interaction, found)
        if accepted is None:
            return
        assert not isinstance(found, Refused)
        try:
            if found.once is not None or clear_menu:
                spent = self._view(found, spent=True) if found.once else discord.ui.View()
                await interaction.response.edit_message(view=spent)
            else:
                await interaction.response.defer()
            followup = await interaction.followup.send(
                text.composing_for(interaction.user.id),
                wait=True,
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except discord.HTTPException:
            await self._compose.abandon(accepted)
            raise
        outcome = await self._run(ProgressMessage(interaction, followup), accepted)
        if not isinstance(outcome, Delivered) and found.once and interaction.message is not None:
            try:
                await interaction.message.edit(view=self._view(found, spent=False))
            except discord.HTTPException as exc:
                log.warning("could not show a button as usable again: %s", exc)

    def _view(self, found: ButtonOrder, *, spent: bool) -> discord.ui.View:
        """The pressed message's buttons: the once button spent, or usable again."""
        once = found.once
        assert once is not None
        if once.kind == "suggestion":
            return UseSuggestionButton.as_view(once.row_id, disabled=spent)
        if once.kind == "retry":
            return RetryButton.as_view(once.row_id, disabled=spent)
        track = found.track
        assert track is not None
        used = track.spent | {once.kind} if spent else track.spent
        return track_view(track.id, inpainting=self._orders.editable(track), spent=used)

    async def use_suggestion(self, interaction: discord.Interaction, suggestion_id: str) -> None:
        await self.compose_for_button(interaction, await self._orders.suggestion(suggestion_id))

    async def retry(self, interaction: discord.Interaction, job_id: str) -> None:
        await self.compose_for_button(interaction, await self._orders.retry(job_id))

    async def regenerate(self, interaction: discord.Interaction, track_id: str) -> None:
        found = await self._orders.regenerate(requester(interaction), track_id)
        await self.compose_for_button(interaction, found)

    async def extend(self, interaction: discord.Interaction, track_id: str) -> None:
        found = await self._orders.extend(requester(interaction), track_id)
        await self.compose_for_button(interaction, found)

    async def pick_redo_section(self, interaction: discord.Interaction, track_id: str) -> None:
        """Redo a section, under a track: a private menu of the track's sections."""
        sections = await self._orders.redo_sections(requester(interaction), track_id)
        if isinstance(sections, Refused):
            await send_ephemeral(interaction, text.refusal(sections.reason))
            return
        await send_ephemeral(
            interaction,
            text.PICK_REDO_SECTION,
            view=RedoSectionMenu.for_track(track_id, sections),
        )

    async def redo_section(
        self, interaction: discord.Interaction, track_id: str, index: int
    ) -> None:
        found = await self._orders.redo(requester(interaction), track_id, index)
        await self.compose_for_button(interaction, found, clear_menu=True)

    # -- deleting a track --------------------------------------------------------------------

    async def delete_track(self, interaction: discord.Interaction, track_id: str) -> None:
        """The Delete button under a track, and /music forget."""
        deleted = await self._orders.delete(requester(interaction), track_id)
        if isinstance(deleted, Refused):
            await send_ephemeral(interaction, text.refusal(deleted.reason))
            return
        await send_ephemeral(interaction, text.TRACK_DELETED)
        message = interaction.message
        me = self.bot.user
        assert me is not None
        try:
            if message is None or message.author.id != me.id:
                channel = self.bot.get_partial_messageable(
                    deleted.track.channel_id, guild_id=deleted.track.guild_id
                )
                message = await find_track_message(
                    channel,
                    author_id=me.id,
                    track_id=track_id,
                    message_id=deleted.message_id,
                    since=deleted.track.created_at,
                )
            if message is not None:
                await message.delete()
        except discord.HTTPException as exc:
            log.warning("could not delete the message of track %s: %s", track_id, exc)

    async def track_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """The member's recent tracks matching what they typed, for autocomplete."""
        if interaction.guild_id is None:
            return []
        tracks = await self._orders.recent(requester(interaction))
        return choices(
            ((text.track_choice(self._orders.describe(t), t.length_s), t.id) for t in tracks),
            current,
        )
