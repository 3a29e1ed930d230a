"""The writer's room the benches ask in: a thriller's diner, two characters, a scene begun, and
one request of each task kind in it, in English and in Chinese (`requests`).

Only `model.tasks` is read, whose names have stood since before the int8 work of issue 16, so
`bench.then_and_now` can ask the same requests of an older checkout of the project."""

from __future__ import annotations

from model.tasks import CharacterSheet, PromptContext, TaskKind, TaskRequest, is_chinese

MARA = CharacterSheet("MARA", role="diner cook", personality="dry, impatient, loyal")
TOM = CharacterSheet("TOM", role="fugitive", personality="nervous, charming, a liar")
ROOM = PromptContext(
    title="Night Shift",
    logline="A diner cook hides a fugitive from the harbour police for one night.",
    genre="thriller",
    characters=(MARA, TOM),
    scene_heading="INT. HARBOUR DINER - NIGHT",
    recent_script=(
        "INT. HARBOUR DINER - NIGHT\n\nRain on the windows. MARA wipes the counter.\n\n"
        "TOM\n(dripping)\nAre you still open?\n\nMARA\nFor coffee."
    ),
    cast=("MARA", "TOM"),
)


def six_requests(
    room: PromptContext, words: tuple[str, str, str, str, str]
) -> tuple[TaskRequest, ...]:
    """One request of each task kind in `room`, in the order of `TaskKind`: `words` are the
    writer's for the premise, the character, the scene, the dialogue and the beat (a
    continuation takes none); the scene and the dialogue put the room's cast in play."""
    premise, character, scene, dialogue, beat = words
    return (
        TaskRequest(TaskKind.PREMISE, premise, (), room),
        TaskRequest(TaskKind.CHARACTER, character, (), room),
        TaskRequest(TaskKind.SCENE, scene, room.cast, room),
        TaskRequest(TaskKind.DIALOGUE, dialogue, room.cast, room),
        TaskRequest(TaskKind.BEAT, beat, (), room),
        TaskRequest(TaskKind.CONTINUE, "", (), room),
    )


REQUESTS = six_requests(
    ROOM,
    (
        "a cook hides a fugitive in her diner",
        "the harbour police sergeant who hunts Tom",
        "the police arrive at the diner",
        "Tom asks Mara to hide him",
        "a twist about the money",
    ),
)


A_MEI = CharacterSheet("阿梅", role="小饭馆的厨子", personality="嘴硬，不耐烦，讲义气")
XIAO_TANG = CharacterSheet("小唐", role="逃犯", personality="紧张，会哄人，爱撒谎")
ROOM_ZH = PromptContext(
    title="夜班",
    logline="港口小饭馆的女厨子替一个逃犯挡了一夜的水警。",
    genre="惊悚",
    language="Chinese",
    characters=(A_MEI, XIAO_TANG),
    scene_heading="内景 港口小饭馆 - 夜",
    recent_script=(
        "内景 港口小饭馆 - 夜\n\n△ 雨打在窗上。阿梅擦着柜台。\n\n"
        "小唐：（浑身湿透）还开着吗？\n阿梅：只卖咖啡。"
    ),
    cast=("阿梅", "小唐"),
)
#: The same six requests in a Chinese room (`--language Chinese`).
REQUESTS_ZH = six_requests(
    ROOM_ZH,
    (
        "厨子把逃犯藏在自己的饭馆里",
        "追捕小唐的水警队长",
        "水警来到饭馆",
        "小唐求阿梅把他藏起来",
        "关于那笔钱的反转",
    ),
)


def requests(language: str) -> tuple[TaskRequest, ...]:
    """The six requests of a room in `language`: English (the default) or Chinese."""
    if not language or language.strip().lower() == "english":
        return REQUESTS
    if is_chinese(language):
        return REQUESTS_ZH
    raise SystemExit(f"--language {language!r}: English or Chinese")
