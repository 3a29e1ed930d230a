"""A Chinese room on the real shipped model, through the console as a writer would use it: a
Chinese premise, a pick, a dialogue between two Chinese characters, the script shown. Whatever
the small model writes, no take, title or line the room sees holds a broken character (U+FFFD):
the model's bytes are decoded only at UTF-8 boundaries, and a take that still holds one is
sampled again (marked `slow`: about a minute on a small CPU)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.slow
def test_a_chinese_premise_on_the_real_model_gives_takes_without_broken_characters(
    tmp_path: Path,
) -> None:
    lines = "\n".join(
        [
            "/room settings takes:2 length:48",
            "/premise idea:一个茶馆老板在拆迁前的最后一夜，想把茶馆的老规矩传给拆迁办的年轻职员",
            "/pick take:1",
            '/dialogue situation:小梅深夜来劝陈伯在拆迁协议上签字 characters:"陈伯, 小梅"',
            "/pick take:1",
            "/show",
            "/room style",
            "/room style language:中文",
            "/status",
        ]
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HOME": str(tmp_path)}
    env.pop("DISCORD_TOKEN", None)
    done = subprocess.run(
        [sys.executable, "-m", "bot", "console", "--db", str(tmp_path / "room.db"), "--seed", "5"],
        input=lines + "\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert "\ufffd" not in done.stdout
    assert done.stdout.count("went in") == 2, done.stdout
    # The room writes in Chinese: the premise took its language from the idea's script.
    assert re.search(r"(?i)language\W+(chinese|中文)", done.stdout), done.stdout
    # The picked dialogue is in the script, spoken by the room's two characters.
    assert "陈伯" in done.stdout and "小梅" in done.stdout and CJK.search(done.stdout)
    # The room is told that its Chinese premise made it a Chinese room, and, then, when it
    # names its language itself, and in `/status`, what to expect of the built-in model's
    # Chinese and where a better model comes from.
    assert done.stdout.count("This room writes in Chinese now") == 1, done.stdout
    told = [line for line in done.stdout.splitlines() if "docs/DEPLOY.md" in line]
    assert len(told) == 3, done.stdout
    assert all("writes Chinese poorly" in line for line in told[:2])
    assert "The built-in model is small (135M parameters)" in told[2]
