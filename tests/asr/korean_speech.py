"""The known speech of the ASR tests: what citizen and agent say, the vocabulary, and how a call's recording is
put together and scored."""

from __future__ import annotations

import array
import subprocess
import wave
from pathlib import Path

CITIZEN = "안녕하세요 민원 신고 하고 싶어요"
"""What the citizen says: hello, I want to file a complaint (민원 신고: 投诉 to a public office)."""
AGENT = "네 말씀 하세요"
"""What the agent answers: yes, go ahead."""
VOCABULARY = ("안녕하세요 감사합니다 전화번호를 주세요 오늘 날씨 좋아요 경찰 불 집 에 물 이 안 소방서 병원 학교 길 차 사고 "
              "났어요 여기 저기 어디 언제 지금 빨리 와 아파트 주소 이름 네 아니요 시청 민원 신고 하고 싶어요 말씀 "
              "하세요").split()
"""A hotline's words, in the model's vocabulary, the sentences' among them (asr.vocabulary)."""
AGENT_DELAY_S = 3.0
"""The agent starts speaking this long into the recording."""
RATE = 16_000
"""A wideband call (G.722, or Opus from a softphone): espeak-ng's Korean at 8 kHz is beyond this small model."""


def spoken(text: str, path: Path) -> Path:
    """A mono 16 kHz WAV at ``path`` of espeak-ng's Korean voice saying ``text``."""
    said = subprocess.run(["espeak-ng", "-v", "ko", "-s", "160", "--stdout", text], capture_output=True, check=True)
    pcm = subprocess.run(["ffmpeg", "-v", "error", "-i", "-", "-ar", str(RATE), "-ac", "1", "-f", "s16le", "-"],
                         input=said.stdout, capture_output=True, check=True).stdout
    with wave.open(str(path), "wb") as audio:
        audio.setnchannels(1), audio.setsampwidth(2), audio.setframerate(RATE)
        audio.writeframes(pcm)
    return path


def two_channel(path: Path, left: Path, right: Path, right_after_s: float = AGENT_DELAY_S) -> Path:
    """A call's recording as FreeSWITCH writes it (caller left, agent right): ``right`` starting ``right_after_s``
    in, a second of silence after the last word."""
    tracks = []
    for wav, delay in ((left, 0.0), (right, right_after_s)):
        with wave.open(str(wav)) as audio:
            tracks.append(array.array("h", bytes(int(delay * RATE) * 2) + audio.readframes(audio.getnframes())))
    frames = max(len(track) for track in tracks) + RATE
    mixed = array.array("h", bytes(frames * 4))
    for n, track in enumerate(tracks):
        mixed[n::2] = track + array.array("h", bytes((frames - len(track)) * 2))
    with wave.open(str(path), "wb") as audio:
        audio.setnchannels(2), audio.setsampwidth(2), audio.setframerate(RATE)
        audio.writeframes(mixed.tobytes())
    return path


def word_errors(reference: str, heard: str) -> int:
    """Substitutions, insertions and deletions between two word sequences (Levenshtein on words)."""
    ref, hyp = reference.split(), heard.split()
    row = list(range(len(hyp) + 1))
    for i, word in enumerate(ref, 1):
        diagonal, row[0] = row[0], i
        for j, other in enumerate(hyp, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (word != other))
    return row[-1]
