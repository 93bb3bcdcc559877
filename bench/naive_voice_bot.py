"""The baseline for voice: a bot that downloads the whole track, then plays it.

`/jam start` joins the member's voice channel; `/music compose` defers, collects the whole
answer of the official SDK's `music.compose` (as `pcm_48000`), and plays it with
`discord.PCMAudio`. No streaming, no queue, no quota. Run by `bench.voice` against the same
local Discord, voice server and sandbox as the real bot.
"""

from __future__ import annotations

import io
import os

import discord
from discord import app_commands
from elevenlabs.client import AsyncElevenLabs

from bench.naive_bot import run_on_local_discord


class NaiveVoiceBot(discord.Client):
    def __init__(self) -> None:
        super().__init__(intents=discord.Intents(guilds=True, voice_states=True))
        self.tree = app_commands.CommandTree(self)
        self.eleven = AsyncElevenLabs(
            api_key=os.environ["ELEVENLABS_API_KEY"], base_url=os.environ["ELEVENLABS_BASE_URL"]
        )
        jam = app_commands.Group(name="jam", description="Play in voice")
        music = app_commands.Group(name="music", description="Compose music")

        @jam.command(name="start", description="Join your voice channel")
        async def start(interaction: discord.Interaction) -> None:
            await interaction.response.defer(thinking=True)
            member = interaction.user
            assert isinstance(member, discord.Member) and member.voice and member.voice.channel
            await member.voice.channel.connect()
            await interaction.edit_original_response(content="Jam started")

        @music.command(name="compose", description="Compose a track and play it")
        async def compose(interaction: discord.Interaction, prompt: str, length: int) -> None:
            await interaction.response.defer(thinking=True)
            audio = b"".join(
                [
                    chunk
                    async for chunk in self.eleven.music.compose(
                        prompt=prompt, music_length_ms=length * 1000, output_format="pcm_48000"
                    )
                ]
            )
            voice = interaction.guild.voice_client if interaction.guild else None
            assert isinstance(voice, discord.VoiceClient)
            # The API's songs are stereo, as the sandbox's are: 48 kHz 16-bit interleaved.
            voice.play(discord.PCMAudio(io.BytesIO(audio)))
            await interaction.edit_original_response(content="Playing")

        self.tree.add_command(jam)
        self.tree.add_command(music)


def main() -> None:
    run_on_local_discord(NaiveVoiceBot())


if __name__ == "__main__":
    main()
