"""The prompts of a Chinese room, in Chinese, and its answers in the 中文剧本 convention.

A room whose language is Chinese (`model.tasks.is_chinese`) is asked in Chinese: the system
message, the labels of its context, the task and the answer format. Script answers are written
in the convention Chinese scripts use (`screenplay.zh`): a heading such as `内景 茶馆 夜`,
action lines marked `△`, and each speech on one line, `陈伯：（压低声音）打烊了。`; the script so
far reaches the model in the same convention, so what it reads is what it writes. Sheets and
premises use Chinese field names (`性格：`, `片名：`), read back by `model.prompts`' parser, which
also accepts the English ones.

`model.prompts` chooses between these words and its English ones; training (through the same
builders) teaches the model exactly this format. Knows the convention's words and
`screenplay.zh`; knows nothing of torch, the queue or Discord.
"""

from __future__ import annotations

import re

from model.tasks import SCRIPT_KINDS, SHEET_FIELDS, CharacterSheet, TaskKind, TaskRequest
from screenplay.fountain import parse_fountain
from screenplay.types import Document
from screenplay.zh import parse_zh, zh_lines

SYSTEM = (
    "你是编剧室里的一名编剧，为银幕写作：具体、有画面感、用现在时，对白要像真人会说的话。"
    "你只回答要求的内容，按要求的格式，不写别的。全部用中文写。"
)

STANDING = "编剧室的固定要求：{}"

#: The context's labels: title, logline, genre, tone.
CONTEXT_LABELS = ("片名", "梗概", "类型", "基调")
CHARACTERS = "人物："
WHERE = "故事进展到：{}"
CURRENT_SCENE = "当前场景：{}"
SCRIPT_SO_FAR = "剧本目前的结尾：\n{}"
VARIATION = "编剧室喜欢的一稿，请改写：保留发生的事和出场的人，但换一种写法重新写。\n{}"

#: The sheet's field names in Chinese, in the order `model.prompts` writes a sheet.
SHEET_LABELS = {
    "name": "姓名",
    "role": "身份",
    "description": "外形",
    "personality": "性格",
    "backstory": "经历",
    "voice": "说话方式",
    "relationships": "人物关系",
}
PREMISE_LABELS = {"title": "片名", "logline": "梗概"}

#: Field names a Chinese answer may use, and the field each one fills.
FIELD_NAMES = {
    **{label: field for field, label in SHEET_LABELS.items()},
    **{label: field for field, label in PREMISE_LABELS.items()},
    "名字": "name",
    "角色": "role",
    "职业": "role",
    "外貌": "description",
    "描述": "description",
    "个性": "personality",
    "背景": "backstory",
    "背景故事": "backstory",
    "语言": "voice",
    "说话风格": "voice",
    "口吻": "voice",
    "关系": "relationships",
    "标题": "title",
    "剧名": "title",
    "一句话梗概": "logline",
    "故事梗概": "logline",
}

FORMAT = (
    "用中文剧本格式写：场景标题单独一行（内景或外景、地点、日或夜：内景 茶馆 夜）；动作描写"
    "每行以 △ 开头；每句对白占一行，人物名、冒号、台词（陈伯：打烊了。），表演提示写在台词前"
    "的括号里。只回答剧本正文。格式示例（只看格式，不照抄内容）：\n\n内景 茶馆 夜\n"
    "△ 雨打在窗上。\n陈伯：打烊了。\n小梅：（笑）我不是来喝茶的。"
)


def task(request: TaskRequest) -> str:
    """The task of `request`, in Chinese, ending with the answer's format."""
    idea = request.prompt.strip()
    kind = request.kind
    if kind is TaskKind.PREMISE:
        return (
            f"想法：{idea}\n\n把这个想法写成一部影视作品的核心创意。只回答两行：\n"
            "片名：<片名>\n梗概：<一句话：谁想要什么，什么阻挡着他>"
        )
    if kind is TaskKind.CHARACTER:
        fields = "\n".join(f"{label}：…" for label in SHEET_LABELS.values())
        return f"创建一个人物：{idea}\n\n按下面各行回答，每行一项：\n{fields}"
    if kind is TaskKind.SCENE:
        return (
            f"写这场戏的开头：{idea}\n\n给出场景标题和动作描写（我们看到、听到的），"
            f"不要对白。{FORMAT}"
        )
    if kind is TaskKind.DIALOGUE:
        who = f"{'、'.join(request.characters)}之间" if request.characters else ""
        return f"情境：{idea}\n\n写{who}的对白，每个人物用自己的声音说话。{FORMAT}"
    if kind is TaskKind.BEAT:
        hint = f"提示：{idea}\n\n" if idea else ""
        return f"{hint}接下来发生什么？用一到三句话提出下一个情节发展或转折。只回答这几句话。"
    hint = f"方向：{idea}\n\n" if idea else ""
    return f"{hint}从剧本结尾处接着往下写下一段。{FORMAT}"


def sheet_line(sheet: CharacterSheet) -> str:
    """A character of the context: `陈伯（身份：茶馆老板；性格：嘴硬心软）`."""
    details = [
        f"{SHEET_LABELS[name]}：{value.strip()}"
        for name in SHEET_FIELDS
        if (value := str(getattr(sheet, name))).strip()
    ]
    return sheet.name + (f"（{'；'.join(details)}）" if details else "")


def sheet_answer(sheet: CharacterSheet) -> str:
    return "\n".join(
        f"{label}：{value}"
        for name, label in SHEET_LABELS.items()
        if (value := str(getattr(sheet, name)).strip())
    )


def premise_answer(title: str, logline: str) -> str:
    return f"片名：{title.strip()}\n梗概：{logline.strip()}"


def script_text(document: Document) -> str:
    """`document` in the convention as the model reads and writes it: `screenplay.zh`'s lines
    (one element a line, a blank line before each heading), every action line marked `△`."""
    out: list[str] = []
    for line in zh_lines(document):
        if line.kind in ("title", "title-entry"):
            continue
        text = line.text
        if line.kind == "action" and not text.startswith(("△", "▲")):
            text = f"△ {text}"
        if line.kind in ("heading", "episode") and out:
            out.append("")
        out.append(text)
    return "\n".join(out).strip()


def from_fountain(fountain: str) -> str:
    """Fountain text (as the room keeps its script and takes) in the convention."""
    return script_text(parse_fountain(fountain))


def variation(request: TaskRequest) -> str:
    """The take a variation keeps the gist of, in the convention; nothing for other requests."""
    text = request.variation.strip()
    if not text:
        return ""
    if request.kind in SCRIPT_KINDS:
        text = from_fountain(text)
    return VARIATION.format(text)


def read_script(text: str) -> Document | None:
    """A script take read in the convention, or None when it is plainly Fountain (an `INT.`
    heading, an `@` cue) and Fountain's reader should take it. Code fences, markdown bold and a
    line of chatter at either end (`好的，以下是这场戏：`) are not part of the script."""
    if _FOUNTAIN_MARK.search(text):
        return None
    lines = [line.replace("**", "") for line in text.splitlines()]
    lines = [line for line in lines if not line.strip().startswith("```")]
    while lines and (not lines[0].strip() or _CHATTER.match(lines[0].strip())):
        lines.pop(0)
    while lines and (not lines[-1].strip() or _CHATTER.match(lines[-1].strip())):
        lines.pop()
    return parse_zh("\n".join(lines))


_FOUNTAIN_MARK = re.compile(r"^\s*(?:@|(?:INT|EXT|EST|I/E)[./\s])", re.I | re.M)
_CHATTER = re.compile(r"^(?:好的|当然|以下是|下面是|这是|Sure|Here)[^\n]{0,40}[：:。！!]?$", re.I)
