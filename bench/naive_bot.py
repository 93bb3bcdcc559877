"""The baseline bot: what a quick weekend build on the official SDK looks like.

`/music compose` defers, calls `AsyncElevenLabs.music.compose_detailed` (which buffers the whole
answer in memory), and uploads the audio with `discord.File(BytesIO(...))`. No queue, no
database, no quota, no retry, no size check. Run by the benchmarks against the same local
Discord and sandbox as the real bot:

    ELEVENLABS_API_KEY=... ELEVENLABS_BASE_URL=... DISCORD_TOKEN=... \\
    DISCORD_API_BASE_URL=... DISCORD_GATEWAY_URL=... python -m bench.naive_bot
"""

from __future__ import annotations

import io
import logging
import os

import discord
import yarl
from discord import app_commands
from elevenlabs.client import AsyncElevenLabs


class NaiveBot(discord.Client):
    def __init__(self) -> None:
        super().__init__(intents=discord.Intents(guilds=True))
        self.tree = app_commands.CommandTree(self)
        self.eleven = AsyncElevenLabs(
            api_key=os.environ["ELEVENLABS_API_KEY"], base_url=os.environ["ELEVENLABS_BASE_URL"]
        )
        music = app_commands.Group(name="music", description="Compose music")

        @music.command(name="compose", description="Compose a track")
        async def compose(
            interaction: discord.Interaction, prompt: str, length: int, instrumental: bool = False
        ) -> None:
            await interaction.response.defer(thinking=True)
            try:
                result = await self.eleven.music.compose_detailed(
                    prompt=prompt,
                    music_length_ms=length * 1000,
                    force_instrumental=instrumental,
                    output_format="mp3_44100_128",
                )
            except Exception as exc:
                await interaction.edit_original_response(content=f"Failed: {exc}")
                return
            await interaction.edit_original_response(
                attachments=[discord.File(io.BytesIO(result.audio), filename="track.mp3")]
            )

        self.tree.add_command(music)


def run_on_local_discord(bot: discord.Client) -> None:
    """Run a baseline bot against the Discord the benchmark points it at."""
    logging.basicConfig(level=logging.WARNING)
    discord.http.Route.BASE = os.environ["DISCORD_API_BASE_URL"]
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ["DISCORD_GATEWAY_URL"])
    bot.run(os.environ["DISCORD_TOKEN"], log_handler=None)


def main() -> None:
    run_on_local_discord(NaiveBot())


if __name__ == "__main__":
    main()
