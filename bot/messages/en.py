"""The English catalogue: every message the bot shows, by key, with `str.format` fields.

The complete set of keys: every other language has the same keys with the same fields (a test
checks), and English is what a reader gets for a key their language lacks.
"""

from __future__ import annotations

MESSAGES: dict[str, str] = {
    # --- counts, nested in other messages ---------------------------------------------------
    "count.scene.one": "{n} scene",
    "count.scene.many": "{n} scenes",
    "count.beat.one": "{n} beat",
    "count.beat.many": "{n} beats",
    "count.line.one": "{n} line",
    "count.line.many": "{n} lines",
    "count.page.one": "{n} page",
    "count.page.many": "{n} pages",
    "count.take.one": "{n} take",
    "count.take.many": "{n} takes",
    "count.request_served.one": "{n} request served",
    "count.request_served.many": "{n} requests served",
    "count.cleared_vote.one": "its {n} vote was",
    "count.cleared_vote.many": "its {n} votes were",
    "count.word.one": "{n} word",
    "count.word.many": "{n} words",
    "count.script_line.one": "{n} script line",
    "count.script_line.many": "{n} script lines",
    "count.character.one": "{n} character",
    "count.character.many": "{n} characters",
    "count.open_proposal.one": "{n} open proposal",
    "count.open_proposal.many": "{n} open proposals",
    "beat.planned": "planned",
    "beat.written": "written",
    # --- what a request asks for --------------------------------------------------------------
    "kind.premise": "premise",
    "kind.character": "character",
    "kind.scene": "scene",
    "kind.dialogue": "dialogue",
    "kind.beat": "beat",
    "kind.continue": "continue",
    # --- the fields a writer fills in ---------------------------------------------------------
    "field.request": "request",
    "field.description": "description",
    "field.text": "text",
    "field.title": "title",
    "field.logline": "logline",
    "field.location_name": "location name",
    "field.scene": "scene",
    "field.draft_name": "draft name",
    "field.take": "take",
    "field.beat": "beat",
    "field.character_name": "character name",
    "field.genre": "genre",
    "field.tone": "tone",
    "field.style_notes": "style notes",
    "field.language": "language",
    "field.role": "role",
    "field.personality": "personality",
    "field.backstory": "backstory",
    "field.voice": "voice",
    "field.relationships": "relationships",
    # --- why a proposal was decided or closed (stored in English, shown in the reader's) ------
    "reason.first_vote": "the first vote",
    "reason.quorum.one": "{count} vote reached the quorum of {quorum}",
    "reason.quorum.many": "{count} votes reached the quorum of {quorum}",
    "reason.most_votes.one": "most votes at the deadline ({count} vote)",
    "reason.most_votes.many": "most votes at the deadline ({count} votes)",
    "reason.most_votes_tie.one": (
        "most votes at the deadline ({count} vote), the tie going to the take that got its votes "
        "first"
    ),
    "reason.most_votes_tie.many": (
        "most votes at the deadline ({count} votes), the tie going to the take that got its "
        "votes first"
    ),
    "reason.showrunner": "the showrunner's pick",
    "reason.no_vote": "no vote before the deadline",
    "reason.reset": "the room was reset",
    # --- /status: the model and its queue ------------------------------------------------------
    "status.model_local": "Model: {model}, in this process on {device}.",
    "status.model_server": "Model: {model}, on the server at {url}.",
    "status.model_given": "Model: {model}, from a generator given by the caller.",
    "status.model_small": (
        "The built-in model is small (135M parameters): read its takes as rough drafts; most of "
        "its Chinese takes do not read as sentences. For takes worth keeping, whoever runs the "
        "bot can serve a larger model (docs/DEPLOY.md)."
    ),
    "reply.room_now_chinese": (
        "This room writes in Chinese now, on A4 unless you chose a paper: its first request was "
        "written in Chinese. `/room style language:English` or `/undo` changes it back."
    ),
    "reply.chinese_small_model": (
        "Note: the built-in model is small and writes Chinese poorly: most of its Chinese takes, "
        "scenes and dialogue above all, do not read as sentences. A larger Chinese model served "
        "by whoever runs the bot, such as Qwen2.5, mends this (docs/DEPLOY.md)."
    ),
    "status.queue": (
        "Queue: {waiting} waiting, {generating} generating ({takes}); wait p50 {p50} s "
        "(max {max} s); {tokens} tokens/s; batch mean {batch} (max {batch_max}); {served}."
    ),
    "status.queue_server": "Queue: kept by the model server.",
    "status.queue_none": "Queue: none in this process.",
    "status.up": "Up {duration}.",
    "duration.hours": "{h} h {min} min",
    "duration.minutes": "{min} min {s} s",
    "duration.seconds": "{s} s",
    # --- the room's log: what /history, /undo and /redo say each change was ------------------
    "omitted.sheet": "the sheet of {name}",
    "omitted.all": "all of the script",
    "omitted.scenes.one": "{n} earlier scene",
    "omitted.scenes.many": "{n} earlier scenes",
    "omitted.scene_start": "the start of the scene {heading}",
    "omitted.opening": "the opening lines before the first scene",
    "language.chinese": "Chinese",
    "language.english": "English",
    "list.separator": ", ",
    "attribution.written_by": "written by {who}",
    "attribution.take": "take {take} of proposal #{proposal}",
    "attribution.model": " (model {model})",
    "attribution.picked_by": "picked by {who}",
    "attribution.edited_by": "edited by {who}",
    "attribution.revised_by": "revised by {who}",
    "attribution.separator": ", ",
    "attribution.then": "{first}; then {then}",
    "attribution.the_room": "the room",
    "attribution.user": "user {id}",
    "count.vote.one": "{n} vote",
    "count.vote.many": "{n} votes",
    "count.change.one": "{n} change",
    "count.change.many": "{n} changes",
    "field.page_size": "page size",
    "event.as_stored": "{text}",
    "event.open": "opened the room as its showrunner",
    "event.propose.one": "asked for {n} {kind} take (proposal #{proposal})",
    "event.propose.many": "asked for {n} {kind} takes (proposal #{proposal})",
    "event.chinese_room": (
        "set the language to Chinese and the paper to A4 (the request was written in Chinese)"
    ),
    "event.takes": "{takes} of proposal #{proposal} came in from {models}",
    "event.failed": "proposal #{proposal} failed: {reason}",
    "event.reroll": "rerolled proposal #{proposal} as #{new}",
    "event.edit_take": "edited take {take} of proposal #{proposal}",
    "event.edit_take_cleared": "edited take {take} of proposal #{proposal}, clearing {votes}",
    "setting.takes": "takes",
    "setting.pick_rule": "pick rule",
    "setting.quorum": "quorum",
    "setting.deadline": "deadline",
    "setting.temperature": "temperature",
    "setting.length": "length",
    "setting.top_p": "top-p",
    "setting.top_k": "top-k",
    "setting.repetition_penalty": "repetition penalty",
    "setting.showrunners": "showrunners",
    "event.settings": "changed the settings ({names})",
    "event.reset": "reset the room",
    "event.branch": "branched from room {room}",
    "event.branched": "branched this room into room {room}",
    "event.premise": "set the {fields}",
    "event.character_added": "added {name} to the bible",
    "event.character_edited": "edited {name} in the bible",
    "event.character_removed": "removed {name} from the bible",
    "event.location_added": "added the location {name}",
    "event.location_edited": "edited the location {name}",
    "event.location_removed": "removed the location {name}",
    "event.beat_added": "added the beat {quote}",
    "event.beat_edited": "edited beat {number}",
    "event.beat_removed": "removed beat {number} {quote}",
    "event.wrote": "wrote {lines}",
    "event.wrote_after": "wrote {lines} after line {after}",
    "event.imported": "imported {file} ({lines})",
    "event.undid": "undid: {summary}",
    "event.redid": "redid: {summary}",
    "event.vote": "voted for take {take} of proposal #{proposal}",
    "event.unvote": "withdrew their vote for take {take} of proposal #{proposal}",
    "event.expired": "proposal #{proposal} expired without a vote",
    "event.pick": "take {take} of proposal #{proposal} went in ({reason})",
    "event.revised_line": "revised line {line}",
    "event.revised_scene": "revised scene {scene} ({diff})",
    "event.diff.revised": "{lines} revised",
    "event.diff.added": "{lines} added",
    "event.diff.removed": "{lines} removed",
    "event.deleted_line": "deleted line {line}",
    "event.deleted_lines": "deleted lines {first}–{last}",
    "event.deleted_scene": "deleted scene {scene} ({lines})",
    "event.moved_to_start": "moved scene {scene} to the start",
    "event.moved_after": "moved scene {scene} after scene {after}",
    "event.inserted": "inserted {lines} before scene {scene}",
    "event.undid_to": "undid {changes}, back to change #{number}",
    "event.undid_all": "undid {changes}, back to every change",
    "event.draft": 'saved the draft "{name}"',
    # --- errors of the room -----------------------------------------------------------------
    "error.no_proposal": "There is no proposal #{proposal} in this room.",
    "error.takes_being_written": "The takes of proposal #{proposal} are still being written.",
    "error.takes_being_written_vote": (
        "The takes of proposal #{proposal} are still being written; vote when they appear."
    ),
    "error.no_take": "Proposal #{proposal} has no take {take}; its takes are 1 to {last}.",
    "error.no_beat": "There is no beat {number}; the outline has {beats}.",
    "error.closed_decided": "Proposal #{proposal} is already decided: take {take} went in.",
    "error.closed_decided_undone": (
        "Proposal #{proposal} is already decided: take {take} went in and was undone since."
    ),
    "error.closed_rerolled": "Proposal #{proposal} was rerolled as #{new}; vote on the new takes.",
    "error.closed_expired": "Proposal #{proposal} expired without a vote; votes no longer count.",
    "error.closed_failed": "Proposal #{proposal} failed; votes no longer count.",
    "error.closed_cancelled": (
        "Proposal #{proposal} was cancelled when the room was reset; votes no longer count."
    ),
    "error.cancelled": (
        "Proposal #{proposal} was cancelled when the room was reset; its takes were not kept."
    ),
    "error.cancelled_by": (
        "Proposal #{proposal} was cancelled when the room was reset by {by}; its takes were not "
        "kept."
    ),
    "error.import_kind": "Import a .fountain or .fdx file.",
    "error.import_too_large": "{file} is too large to import (the limit is {limit:,} bytes).",
    "error.import_not_utf8": "{file} is not UTF-8 text.",
    # The screenplay library's errors (`ScreenplayError.kind`): English as the library
    # words them; other languages word them from the error's fields.
    "screenplay.fdx_empty": "{reason}",
    "screenplay.fdx_not_xml": "{reason}",
    "screenplay.fdx_cut_off": "{reason}",
    "screenplay.fdx_bad_xml": "{reason}",
    "screenplay.fdx_entities": "{reason}",
    "screenplay.fdx_encoding": "{reason}",
    "screenplay.fdx_not_final_draft": "{reason}",
    "screenplay.not_text": "{reason}",
    "screenplay.binary": "{reason}",
    "screenplay.file_missing": "{reason}",
    "screenplay.file_folder": "{reason}",
    "screenplay.file_not_regular": "{reason}",
    "screenplay.file_too_big": "{reason}",
    "screenplay.file_no_name": "{reason}",
    "screenplay.file_nul_name": "{reason}",
    "screenplay.read_denied": "{reason}",
    "screenplay.read_failed": "{reason}",
    "screenplay.disk_full": "{reason}",
    "screenplay.write_denied": "{reason}",
    "screenplay.write_failed": "{reason}",
    "screenplay.write_folder": "{reason}",
    "screenplay.write_no_folder": "{reason}",
    "screenplay.write_link_loop": "{reason}",
    "screenplay.write_not_regular": "{reason}",
    # The model loader's errors (`ModelLoadError.kind`): its English, passed on.
    "model_load.not_installed": "{reason}",
    "model_load.no_gpu": "{reason}",
    "model_load.dtype": "{reason}",
    "model_load.quantisation": "{reason}",
    "model_load.kv_cache": "{reason}",
    "model_load.not_found": "{reason}",
    "model_load.no_adapter": "{reason}",
    "error.import_unreadable": "{reason}",
    "error.import_empty": "{file} has no screenplay lines to import.",
    "error.import_has_script": (
        "This room already has a script; a showrunner can reset it first, or branch the room to "
        "import into a new one."
    ),
    "error.no_scene": "There is no scene {scene}; the script has {scenes}.",
    "error.no_scene_listed": "There is no scene {scene}; the script has {scenes}{listed}.",
    "error.title_page_lines": (
        "Title page lines (Title:, Author: ...) do not go into the script; set the title with the "
        "premise, or start the text with a scene heading or action."
    ),
    "error.no_screenplay_lines": "There is nothing to add: the text has no screenplay lines.",
    "error.not_screenplay": "That is not a screenplay yet: {problems}",
    "error.not_screenplay_more": "That is not a screenplay yet: {problems} (and {more} more)",
    "error.ask_kinds": "Ask for one of: {kinds}.",
    "error.say_what": "Say what the {kind} should be about.",
    "error.too_many_characters": "Name at most {most} characters.",
    "error.takes_range": "Ask for 1 to 5 takes.",
    "error.proposal_takes_range": "A proposal has 1 to 5 takes.",
    "error.takes_unwanted": "Proposal #{proposal} is {status}; its takes are no longer wanted.",
    "error.model_busy": "{reason}",
    "error.model_too_many": "{reason}",
    "error.model_queue_timeout": "{reason}",
    "error.model_timeout": "{reason}",
    "error.model_cancelled": "{reason}",
    "error.model_closed": "{reason}",
    "error.model_out_of_memory": "{reason}",
    "error.model_too_long": "{reason}",
    "error.model_bad_sampling": "{reason}",
    "error.model": "{reason}",
    "error.export_too_slow": "Laying out the script took more than {seconds} s, so the export was stopped; try format:fountain, which needs no layout.",
    "error.import_too_slow": "{file} is too complex to import: reading it took more than {seconds} s. Simplify its markup or split it.",
    "error.request_cancelled": "The request was cancelled.",
    "error.generation_failed": "The model could not write takes for this request.",
    "error.no_takes": "The model returned no takes for this request.",
    "error.owner_or_showrunner.reroll": (
        "Only the writer who asked for proposal #{proposal}, or a showrunner, can reroll it; vote "
        "for the take you like instead."
    ),
    "error.owner_or_showrunner.edit": (
        "Only the writer who asked for proposal #{proposal}, or a showrunner, can edit its takes; "
        "vote for the take you like instead."
    ),
    "error.no_setting": "There is no setting called {names}.",
    "error.showrunner_settings": "Only a showrunner can change the room's settings.",
    "error.showrunner_reset": "Only a showrunner can reset the room.",
    "error.showrunner_pick": "Only a showrunner can pick a take; vote for it instead.",
    "error.showrunner_branch": (
        "Only a showrunner can branch this room, since a branch opens a new thread; ask a "
        "showrunner to branch it."
    ),
    "error.branch_new_room": "A branch needs a new room.",
    "error.branch_room_taken": "That room already has a story of its own; branch into a new one.",
    "error.branch_nothing": "This room has no story to branch yet.",
    "error.setting_value": (
        "That value does not fit the setting (pick rules are {rules}; numbers elsewhere)."
    ),
    # The pick rules as a writer types them (`/room settings pick_rule:`).
    "choice.pick_rule.first": "first",
    "choice.pick_rule.majority": "majority",
    "choice.pick_rule.showrunner": "showrunner",
    "error.no_showrunner": "A room needs at least one showrunner or showrunner role.",
    "error.take_has_problems": (
        "Take {take} of proposal #{proposal} still has problems ({problems}), so votes cannot put "
        "it in: a showrunner can /pick it, or /edit it to repair it."
    ),
    "error.show_range": "Show a range of lines like 1 to 20; lines are numbered from 1.",
    "error.revise_line_empty": "Give the line's new text; to remove the line use /delete lines:N.",
    "error.line_unchanged": "Line {line} already reads that way; nothing changed.",
    "error.scene_needs_heading": (
        "A scene starts with its heading (INT. … or EXT. …); to remove scene {scene} use "
        "/delete scene:{scene}."
    ),
    "error.scene_changed_meanwhile": (
        "Scene {scene} changed while you revised it; open it again to see the new version."
    ),
    "error.scene_unchanged": "Scene {scene} already reads that way; nothing changed.",
    "error.move_after_itself": "Scene {scene} cannot go after itself.",
    "error.move_already_there": "Scene {scene} is already there.",
    "error.insert_needs_heading": "A new scene starts with its heading (INT. … or EXT. …).",
    "error.lines_format": "Give lines as a number or a range like 12-15, not {text}.",
    "error.range_upward": "A range runs upward, like {first}-{last}.",
    "error.line_one_element": (
        "A line is one screenplay element; to put several lines in its place, revise its scene "
        "(/revise scene:N) or /write them after it."
    ),
    "error.script_empty_lines": "The script is empty; there are no lines to change.",
    "error.line_range": "The script has {lines}; lines are numbered 1 to {last}.",
    "error.pages_from_1": "Pages are numbered from 1.",
    "error.history_pages": "The history has {pages}.",
    "error.nothing_to_undo": "There is nothing to undo.",
    "error.nothing_to_redo": "There is nothing to redo.",
    "error.undo_to_other_writer": (
        "A change after #{number} ({summary}) is another writer's; only a showrunner can undo it."
    ),
    "error.other_writers_undo": (
        "The last change ({summary}) is another writer's; only a showrunner can undo it."
    ),
    "error.other_writers_redo": (
        "The last change ({summary}) is another writer's; only a showrunner can redo it."
    ),
    "error.draft_name": 'A draft needs a name, like name:"blue draft".',
    "error.draft_exists": 'This room already has a draft called "{name}".',
    "error.draft_no_script": "There is no script to save as a draft yet.",
    "error.export_formats": "Export formats are {formats}; not {given}.",
    "error.no_draft": 'There is no draft called "{name}".',
    "error.nothing_to_export": "There is no script to export yet.",
    "error.no_change": "There is no change #{number} in this room; /history lists them.",
    "error.change_not_in_effect": (
        "Change #{number} is not a change to the story in effect now (it is not one, or it was "
        "undone); /history shows which are."
    ),
    "error.nothing_after_change": "Nothing was changed after change #{number}; nothing to undo.",
    "error.stats_empty": "The script is empty; there is nothing to count yet.",
    "error.too_long": "The {what} is too long ({length} characters; the limit is {limit}).",
    "error.deadline_format": "Give the deadline as a number with s, m, h or d, like 10m or 2h.",
    "error.character_name": "A character needs a name.",
    "error.setting_takes": "Takes per request must be between 1 and 5.",
    "error.setting_quorum": "The quorum must be between 1 and 100 votes.",
    "error.setting_deadline": "The vote deadline must be between 10 seconds and 7 days.",
    "error.setting_temperature": "The temperature must be between 0 and 2.",
    "error.setting_length": "The length must be between 16 and 4096 tokens.",
    "error.setting_top_p": "Top-p must be above 0 and at most 1.",
    "error.setting_top_k": "Top-k must be between 0 (off) and 1000.",
    "error.setting_repetition_penalty": "The repetition penalty must be between 1 and 2.",
    "error.setting_showrunners": "A room can have at most 50 showrunners and showrunner roles.",
    "error.edited_take_empty": "An edited take cannot be empty.",
    "error.sheet_lines": "After the name, write the sheet as lines like 'Role: ...' ({fields}).",
    "error.sheet_no_field": "A character sheet has no field {unknown}; it has {fields}.",
    "error.beat_empty": "A beat needs some words.",
    "error.page_size": "The page size is letter or a4.",
    "error.language_empty": "The language cannot be empty.",
    "error.in_bible_edit": "{name} is already in the bible; edit the entry instead.",
    "error.in_bible": "{name} is already in the bible.",
    "error.not_in_bible": "{name} is not in the bible.",
    "error.location_exists_edit": "{name} is already a location; edit it instead.",
    "error.location_exists": "{name} is already a location.",
    "error.no_location": "{name} is not a location of this room.",
    "error.location_name": "A location needs a name.",
    "error.beat_status": "A beat is planned or written.",
    "error.text_empty": "There is nothing to add: the text is empty.",
    "error.write_after": "The script has {length} lines; write after line 0 to {length}.",
    "error.db_full": (
        "The room's database is full (disk full): nothing was changed; free some space on the "
        "bot's disk, then try again."
    ),
    "error.db_io": (
        "The room's database could not be read or written (disk I/O error): nothing was changed; "
        "check the bot's disk, then try again."
    ),
    "error.db_readonly": (
        "The room's database has become read-only: nothing was changed; let the bot write its "
        "database file and folder again, then try again."
    ),
    "error.db_cantopen": (
        "The room's database file cannot be opened any more: nothing was changed; check the bot's "
        "disk and folder, then try again."
    ),
    "error.db_corrupt": "The room's database is damaged: nothing was changed; restore it from a backup.",
    "error.db_busy": (
        "The room's database is locked by another program: nothing was changed; try again in a "
        "moment."
    ),
    # --- what happened to a take ---------------------------------------------------------------
    "reply.take_unchanged": "Take {take} is unchanged; its votes stay.",
    "reply.take_edited": "Take {take} was edited by {by}.",
    "reply.take_edited_cleared": "Take {take} was edited by {by}; {votes} cleared — vote again.",
    # --- problems of a take (written in English by the model side, shown in the reader's) ----
    "problem.at_line": "line {line}: {problem}",
    "problem.and": "{first} {rest}",
    "problem.cue_no_name": "A character cue has no name.",
    "problem.cue_no_dialogue": "{name} has a cue but no dialogue.",
    "problem.dialogue_no_cue": 'Dialogue "{text}" has no character cue before it.',
    "problem.parenthetical_no_cue": 'The parenthetical "{text}" has no character cue before it.',
    "problem.parenthetical_unwrapped": (
        'The parenthetical "{text}" should be written in parentheses.'
    ),
    "problem.dialogue_opens": 'Dialogue "{text}" opens a parenthesis that is never closed.',
    "problem.dialogue_closes": 'Dialogue "{text}" closes a parenthesis that was never opened.',
    "problem.action_opens": 'Action "{text}" opens a parenthesis that is never closed.',
    "problem.action_closes": 'Action "{text}" closes a parenthesis that was never opened.',
    "problem.parenthetical_opens": (
        'The parenthetical "{text}" opens a parenthesis that is never closed.'
    ),
    "problem.parenthetical_closes": (
        'The parenthetical "{text}" closes a parenthesis that was never opened.'
    ),
    "problem.heading_empty": (
        "A scene heading is empty; write where and when, e.g. INT. KITCHEN - NIGHT."
    ),
    # A heading is quoted as Python's repr() quotes it: in double quotes when it has an apostrophe.
    "problem.heading_no_place": (
        "The scene heading '{heading}' does not say where the scene takes place."
    ),
    "problem.heading_no_place_apostrophe": (
        'The scene heading "{heading}" does not say where the scene takes place.'
    ),
    "problem.heading_no_time": (
        "The scene heading '{heading}' has no time of day; add one after a dash, "
        "e.g. {example} - NIGHT."
    ),
    "problem.heading_no_time_apostrophe": (
        'The scene heading "{heading}" has no time of day; add one after a dash, '
        "e.g. {example} - NIGHT."
    ),
    "problem.zh_heading_no_time": "场景标题“{heading}”缺少日/夜等时间 (the scene heading has no time of day).",
    "problem.zh_heading_no_place": "场景标题“{heading}”缺少地点 (the scene heading does not say where).",
    "problem.zh_heading_runs_on": (
        "场景标题“{heading}”没有在地点和时间之后换行，写进了动作 (the scene heading runs on into "
        "the action; end it after the place and the time of day, e.g. 内景 咖啡馆 夜)."
    ),
    "problem.scene_empty": "The scene {heading} is empty: nothing happens before the next scene.",
    "problem.scene_empty_at_end": (
        "The scene {heading} is empty: nothing happens before the end of the script."
    ),
    "problem.unheaded_scene_empty": (
        "A scene with an empty heading is empty: nothing happens before the next scene."
    ),
    "problem.unheaded_scene_empty_at_end": (
        "A scene with an empty heading is empty: nothing happens before the end of the script."
    ),
    # The name twice, under two fields: a field is read back once (`bot.messages.recognise`).
    "problem.not_on_scene_cast": (
        "{name}说了话，但不在本场的人物表里 ({speaker} speaks but is not on the scene's 人物 line)."
    ),
    "problem.not_in_cast": "{name} speaks but is not in the cast.",
    "problem.not_in_cast_did_you_mean": (
        "{name} speaks but is not in the cast (did you mean {member}?)."
    ),
    "problem.no_screenplay_text": "The take has no screenplay text in it.",
    "problem.no_speaker": "The take has no character speaking.",
    "problem.no_heading": "The take has no scene heading.",
    "problem.sheet_no_fields": (
        "The model wrote no sheet fields; its text is kept as the description."
    ),
    "problem.sheet_no_name": "The character sheet has no name.",
    "problem.sheet_empty": "The character sheet has neither a description nor a personality.",
    "problem.sheet_age_asked": (
        "The sheet's age for {name} (“{age}”) does not fit the request's (“{asked}”)."
    ),
    "problem.sheet_ages": (
        "The sheet gives {name} two ages that cannot both hold (“{first}” and “{second}”)."
    ),
    "problem.premise_no_logline": "The premise has no logline.",
    "problem.premise_no_title": "The premise has no title.",
    "problem.premise_goes_on": "The premise goes on past its title and logline (“{label}”).",
    "problem.beat_empty": "The beat is empty.",
    "problem.beat_is_heading": (
        "The beat is a scene heading (“{beat}”), not something that happens."
    ),
    "problem.beat_is_description": (
        "The beat is a description (“{beat}”), not something that happens."
    ),
    "problem.template_echo": (
        "The take copies the prompt's answer format instead of filling it in (“{echo}”)."
    ),
    "problem.broken_character": "The take has a broken character (\ufffd) in it.",
    "problem.repeats_line": "The take repeats the line “{line}” {times} times.",
    "problem.repeats_paragraph": "The take repeats a paragraph {times} times (“{paragraph}”).",
    "problem.circles": "The take goes round in circles (“{phrase}” {times} times).",
    "problem.held_character": "The take holds one character on repeat (“{held}…”).",
    "problem.writes_in_a_row": "The take writes “{phrase}” {times} times in a row.",
    "problem.writes_line_in_a_row": "The take writes the line “{line}” {times} times in a row.",
    "problem.short_lines": "The take runs on in lines of a word or two ({n} in a row).",
    "problem.few_words": "The take circles among {n} words (“{stretch}”).",
    "problem.line_again": "The take writes the line “{line}” again straight after it.",
    "problem.sentence_again": "The take writes the sentence “{sentence}” again straight after it.",
    "problem.sentence_times": "The take writes the sentence “{sentence}” {times} times.",
    "problem.same_phrases": "The take goes round the same phrases (“{stretch}”).",
    "problem.coming_back": (
        "The take keeps coming back to “{phrase}” ({times} times in {span} words)."
    ),
    "problem.leans_on_character": (
        "The take leans on one character (“{character}” {times} times in {span})."
    ),
    "problem.cut_off": "The take went round in circles and was cut off.",
    "problem.example_place": "The take sets a scene at the place of the prompt's example (“{heading}”).",
    "problem.same_opening": "The take begins {times} lines the same way (“{opening}…”).",
    "problem.request_echo": "The take copies its request back instead of answering it (“{copied}”).",
    "problem.title_echo": "The title only repeats the idea it was asked for (“{title}”).",
    "problem.logline_echo": "The logline only repeats the idea it was asked for (“{logline}”).",
    "problem.prompt_label": "The take writes a label of the prompt (“{label}”) instead of the script.",
    # --- the console's start and stop (standard error) ---------------------------------------
    "start.no_token": (
        "DISCORD_TOKEN is not set, so the Discord bot is not started; opening the console room "
        "instead (put the token in .env to run the bot)."
    ),
    "start.failed": "error: {reason}",
    "start.unworded": "{reason}",
    "start.shipped_model": "the shipped model",
    "start.loading": "Loading {model} (the first start takes longer)…",
    "start.ready": "Model {model} ready in {seconds} s (since the process started).",
    "start.stopping": "Stopping: finishing the takes in the queue…",
    "start.stopped": "Stopped; the database is closed.",
    # --- the console ------------------------------------------------------------------------
    "console.error": "error: {error}",
    "console.apology": "error: Something went wrong on our side; the log has the details.",
    "console.prompt": "room {room}> ",
    "console.banner": "Writers' room {room} — model {model}. /help lists the commands, /quit leaves.",
    "console.no_command": "There is no command /{command}; /help lists them.",
    "console.no_option": "/{command} has no option {option}; it takes {takes}.",
    "console.no_options": "no options",
    "console.takes_no_text": "/{command} takes no text; write just /{command}.",
    "console.not_an_option": (
        '{text} is not an option of /{command}; quote values with spaces, like text:"two words".'
    ),
    "console.needs_option": "/{command} needs {option}; usage: {usage}",
    "console.name_after_at": "Write a name after @, for example: @ana /pick take:1",
    "console.start_with_slash": 'Commands start with /, for example: /premise idea:"...". Try /help.',
    "console.command_after_slash": "Write a command after /, for example: /help",
    "console.unclosed_quote": (
        'A quoted value is missing its closing " — check the quotes in that line.'
    ),
    "console.not_a_number": "The {option} is a number, not {value}.",
    "console.asking": "Proposal #{proposal}: asking the model for {takes}…",
    "console.progress_waiting": "waiting for the model: {place} in line",
    "console.progress_writing": "the model is writing {takes}: {tokens} tokens so far",
    "console.ordinal": "#{n}",
    "console.proposal_header": "Proposal #{proposal} — {kind}, {count} take(s):",
    "console.take_title": "Take {take}",
    "console.take_title_edited": "Take {take} (edited by {by})",
    "console.take_problems": (
        "   (problems: {problems} — a vote cannot put it in; /pick it or /edit it)"
    ),
    "console.take_omitted": "   (left out for length: {omitted})",
    "console.vote_rule": "vote: /vote take:N   pick: /pick take:N   /reroll   /edit take:N text:…",
    "console.added": "Added {lines} to the script:",
    "console.script_empty": "The script is empty. Ask for a /scene, or /write your own lines.",
    "console.scene_numbered": "Scene {scene} (line numbers on the left, as /revise takes them):",
    "console.bible_empty": 'The bible is empty. Ask for one with /character name:"..."',
    "console.bible_empty_add": 'The bible is empty. Add someone with /character name:"..."',
    "console.outline_empty": "The outline has no beats yet. Ask for one with /beat.",
    "console.undone": "Undone: {summary}.",
    "console.redone": "Redone: {summary}.",
    "console.undone_to": "{summary}; /undo takes that back.",
    "console.no_open_proposal": (
        "There is no open proposal in this room; ask the model for takes first."
    ),
    "console.list_separator": ", ",
    "console.tally": "take {take}: {votes}",
    "console.vote_counted": "Vote of {who} counted; proposal #{proposal} stands at {tally}.",
    "console.vote_changed": "Vote of {who} moved; proposal #{proposal} stands at {tally}.",
    "console.vote_unchanged": (
        "Vote of {who} already counted; proposal #{proposal} stands at {tally}."
    ),
    "console.vote_withdrawn": "Vote of {who} withdrawn; proposal #{proposal} stands at {tally}.",
    "console.vote_decided": "Vote of {who} counted; proposal #{proposal} stands at {tally}.",
    "console.the_room": "the room",
    "console.you": "you",
    "console.writer": "writer {id}",
    "console.went_in": "Take {take} of proposal #{proposal} went in ({reason}; picked by {by}).",
    "console.none_yet": "(none yet)",
    "console.title": "Title: {title}",
    "console.logline": "Logline: {logline}",
    "console.beat": "Beat {number}: {text}",
    "console.rerolled": "Proposal #{proposal} withdrawn; asking again as #{new}.",
    "console.now_reads": "Take {take} of proposal #{proposal} now reads:",
    "console.file_error": "{error}",
    "console.wrote_file": "Wrote {path} ({format}, {size:,} bytes).",
    "console.cannot_read": "Cannot read that file: {error}",
    "console.imported": "Imported {file}: {lines} are now the room's script.",
    "console.settings_changed": "Settings changed.",
    "console.none": "none",
    "console.showrunners": "showrunners: {names}",
    "console.branched": (
        "Branched room {room} into room {new} ({lines} of script); this console is now in room "
        "{new} (start it with --room {room} to go back)."
    ),
    "console.reset_confirm": (
        "A reset empties the story and cannot be undone; run /room reset confirm:true."
    ),
    "console.reset_done": "The room is empty again: premise, bible, outline and script are gone.",
    "console.room_status": "Room {room}: {lines}, {characters}, {beats}, {proposals}.",
    "console.help_footer": (
        'Options are name:value, quoted when they hold spaces: /scene description:"A quiet '
        'harbour". Start a line with @name to act as another writer.'
    ),
    "console.expired": "Proposal #{proposal} expired without a vote.",
    "console.locations": "Locations:",
    "reply.character_removed": "{name} is out of the bible (/undo brings them back).",
    "reply.location_added": "Added the location {name}.",
    "console.location": "{name}: {description}",
    "console.no_description": "(no description)",
    "reply.location_removed": "The location {name} is gone (/undo brings it back).",
    "reply.beat_removed": "Beat {number} is out of the outline (/undo brings it back).",
    "console.notes": "notes: {notes}",
    "console.vary_which": "Say which take to vary: /vary take:2",
    "console.varying": "Varying take {take} of proposal #{proposal} as #{new}.",
    "console.stats_place": "  {name}: {scenes}",
    "console.stats_person": "  {name}: {lines}, {words}",
    "console.stats": "{pages} ({paper}), about {minutes} minutes; {scenes}, {words}.",
    "reply.revise_what": 'Revise a line or a scene: /revise line:12 text:"…" or /revise scene:3.',
    "console.revise_line_text": 'Give line {line}\'s new text: /revise line:{line} text:"…"',
    "reply.line_now_reads": "Line {line} now reads:",
    "console.scene_as_fountain": (
        'Scene {scene} as Fountain; revise it with /revise scene:{scene} text:"…" (\\n starts a '
        "new line):"
    ),
    "reply.scene_now_reads": "Scene {scene} now reads:",
    "reply.delete_what": "Delete lines or a scene: /delete lines:12-15 or /delete scene:3.",
    "console.deleted_lines": "Deleted {lines}; /undo puts them back.",
    "console.deleted_scene": "Deleted scene {scene} ({lines}); /undo puts it back.",
    "reply.moved": "Moved scene {scene}; it now starts at line {line}.",
    "console.inserted": "Inserted {lines}:",
    "reply.history_empty": "Nothing has happened in this room yet.",
    "reply.history_page": "History, page {page} of {pages} (newest first):",
    "reply.undone_mark": " (undone)",
    "reply.history_older": "Older changes: /history page:{page}",
    "console.draft_saved": (
        'Saved the draft "{name}" ({scenes}); scene numbers are locked from now on.'
    ),
    "console.no_drafts": 'No drafts yet; save one with /draft save name:"blue draft".',
    # --- the console's /help ------------------------------------------------------------------
    "help.premise": 'ask the model for a title and logline: /premise idea:"A ferry pilot\'s last crossing"',
    "help.character": 'the cast, a sheet, or new sheet takes: /character name:Tom description:"the deckhand"',
    "help.scene": 'ask the model to open a scene: /scene description:"the ferry in fog"; '
    'a heading first sets the place: /scene description:"EXT. FERRY DECK - NIGHT — fog"',
    "help.dialogue": 'dialogue between characters: /dialogue situation:"Mara tells Tom" characters:"MARA, TOM"',
    "help.beat": 'the next plot development: /beat hint:"the engine fails"',
    "help.continue": 'ask the model to continue the script (direction:"Mara snaps" steers it; '
    "a heading first starts a new scene there)",
    "help.vary": "new takes that keep a take's gist (/vary take:2)",
    "help.write": 'your own lines (\\n starts a new line): /write text:"EXT. PIER - DAWN\\n\\nGulls."',
    "help.show": "the script, or one scene: /show scene:2 attribution:true (who wrote what)",
    "help.stats": "pages, runtime, scenes, locations and lines per character: /stats",
    "help.bible": "the characters and locations of the bible: /bible",
    "help.bible_edit": 'change a sheet: /bible edit name:MARA voice:"clipped"',
    "help.bible_remove": "take a character out: /bible remove name:TOM",
    "help.bible_add": 'write a sheet yourself: /bible add name:MARA role:"ferry pilot" voice:"clipped"',
    "help.location_add": 'add a place: /location add name:"FERRY DECK" description:"wet steel" '
    "(named as a heading, EXT. FERRY DECK, it places the scenes asked there)",
    "help.location_edit": 'change a place: /location edit name:"FERRY DECK" description:"rust"',
    "help.location_remove": 'take a place out: /location remove name:"FERRY DECK"',
    "help.cast": "the characters of the bible: /cast",
    "help.outline": "the beats of the outline: /outline",
    "help.outline_edit": 'change a beat: /outline edit number:2 text:"Tom leaves"',
    "help.outline_remove": "take a beat out: /outline remove number:2",
    "help.outline_add": 'plan a beat yourself: /outline add text:"The storm hits"',
    "help.undo": "undo the latest change to the story (to:12 undoes every change after #12)",
    "help.redo": "redo what was undone last: /redo",
    "help.vote": "vote for a take, like clicking its button: /vote take:2",
    "help.pick": "showrunners: put a take in now: /pick take:1",
    "help.reroll": "new takes instead: /reroll",
    "help.edit": 'replace a take\'s text before it goes in: /edit take:2 text:"MARA\\nNot tonight."',
    "help.export": 'write the script as {formats} (attribution:true adds who wrote what; changes_since:"blue draft" marks revised lines in the PDF)',
    "help.revise": 'rewrite a line or a scene: /revise line:12 text:"We\'re late." (scene:3 alone prints it)',
    "help.delete": "remove lines or a scene: /delete lines:12-15, /delete scene:3",
    "help.move": "move a scene: /move scene:3 after:5 (after:0: first)",
    "help.insert": 'a new scene before another: /insert before_scene:3 text:"EXT. ROOF - NIGHT\\n\\nWind."',
    "help.history": "the room's changes, numbered: /history page:2",
    "help.draft_save": 'save a named draft and lock scene numbers: /draft save name:"blue draft"',
    "help.draft_list": "the room's drafts: /draft list",
    "help.import": "a .fountain or .fdx file becomes the script: /import path:draft.fountain",
    "help.room_settings": "show or change the room's settings (showrunners only): /room settings top_p:0.9",
    "help.room_style": "the project's style: /room style genre:noir language:French paper:a4",
    "help.room_branch": "a new room from this room's story: /room branch",
    "help.room_reset": "showrunners: empty the story: /room reset confirm:true",
    "help.status": "the model and its queue: /status",
    "help.help": "the commands, or one explained: /help command:revise",
    "help.quit": "leave the console: /quit",
    # --- Discord: takes, ballots, progress and the embeds -------------------------------------
    "count.vote_for_it.one": "{n} vote for it.",
    "count.vote_for_it.many": "{n} votes for it.",
    "embed.the_room": "the room",
    "embed.take_header": "**Take {take}** of proposal #{proposal}",
    "embed.take_edited_mark": " (edited)",
    "embed.take_problems_mark": " — the model's text has {count} problem(s)",
    "embed.empty": "(empty)",
    "embed.proposal_header": "Proposal #{proposal} — {takes} of {kind} for {requester}{about}",
    "embed.progress_head": "Proposal #{proposal} ({kind})",
    "embed.progress_waiting": "{head}: waiting for the model…",
    "embed.progress_queued": "{head}: number {position} in the queue…",
    "embed.progress_writing": "{head}: writing {takes} take(s), {words} words so far…",
    "embed.restarted": (
        "Proposal #{proposal} ({kind}): the bot restarted while writing, so the takes are "
        "written again below."
    ),
    "embed.decided": "decided",
    "embed.picked_by": "Picked by {by} ({reason}); ",
    "embed.tally": "Tally: {counts}",
    "embed.ballot_decided_title": "Proposal #{proposal}: take {take} went in",
    "embed.undone_mark": " — undone",
    "embed.undone_by": "Undone by {by}: the take is out again.",
    "embed.back_in": "Back in: {by} redid it.",
    "embed.rule.first": "the first vote decides",
    "embed.rule.majority": (
        "a take with {quorum} votes goes in; at the deadline, the most votes win"
    ),
    "embed.rule.showrunner": "a showrunner's vote decides; other votes are advice",
    "embed.vote_with": "Vote with the buttons or the number reactions: {rule}.",
    "embed.voting_closes": "Voting closes <t:{at}:R>.",
    "embed.ballot_open_title": "Proposal #{proposal}: pick a take",
    "embed.ballot_closed_title": "Proposal #{proposal}: {status}",
    "embed.status.generating": "generating",
    "embed.status.open": "open",
    "embed.status.decided": "decided",
    "embed.status.expired": "expired",
    "embed.status.rerolled": "rerolled",
    "embed.status.failed": "failed",
    "embed.status.cancelled": "cancelled",
    "embed.take_has_problems": (
        "Take {take} has problems ({problems}): votes cannot put it in; a showrunner can /pick "
        "it, or /edit it."
    ),
    "embed.left_out": "Left out for length: {omitted}.",
    "embed.rerolled_as": "Rerolled as proposal #{new}; vote on the new takes.",
    "embed.cancelled": "Cancelled when the room was reset; votes no longer count.",
    "embed.cancelled_by": "Cancelled when the room was reset by {by}; votes no longer count.",
    "embed.still_being_written": "The takes are still being written.",
    "embed.votes_no_longer_count": "Votes no longer count.",
    "embed.cast": "Cast",
    "embed.bible_empty": "The bible is empty; add someone with /character.",
    "embed.no_sheet": "(no sheet yet)",
    "embed.and_more": "and {count} more",
    "embed.outline": "Outline",
    "embed.no_beats": "No beats yet; ask for one with /beat.",
    "embed.written_mark": " (written)",
    "embed.none": "none",
    "embed.settings_title": "Room settings",
    "embed.settings": (
        "Takes per request: {takes}\nPick rule: {rule} (quorum {quorum})\nVote deadline: "
        "{deadline} s\nTemperature: {temperature}; top-p {top_p}; top-k {top_k}; repetition "
        "penalty {penalty}\nLength: {length} tokens\nShowrunners: {runners}; roles: {roles}"
    ),
    "embed.bible": "Bible",
    "embed.locations": "Locations",
    "embed.more_characters": "and {count} more characters; /character name:… shows a sheet",
    "embed.stats_title": "The script in figures",
    "embed.stats": (
        "{pages} page(s) ({paper}), about {minutes} minutes; {scenes} scene(s), {words} words."
    ),
    "embed.stats_place": "{name}: {scenes} scene(s)",
    "embed.stats_person": "{name}: {lines} line(s), {words} words",
    "embed.lines_per_character": "Lines per character",
    "embed.style_title": "The project's style",
    "embed.style": (
        "Genre: {genre}\nTone: {tone}\nLanguage: {language}\nPaper: {paper}\nStyle notes: {notes}"
    ),
    "embed.status_title": "Writers' Room status",
    "embed.help_title": "Writers' Room",
    "embed.help_intro": (
        "Co-write a screenplay with the model: ask for takes, vote with the buttons or number "
        "reactions, revise the script together, export it."
    ),
    # --- Discord: replies, buttons and forms --------------------------------------------------
    "reply.apology": "Sorry, something went wrong on our side; it has been logged. Please try again.",
    "reply.cooldown": "Easy there — one command every {per} s per writer; try again in {wait} s.",
    "reply.missing_option": "That command needs its {option} option; see /help.",
    "reply.option_does_not_fit": "That option does not fit: {error}",
    "reply.no_private_message": (
        "The writers' room works in server channels and threads, not in direct messages."
    ),
    "reply.check_failed": "You cannot use that command here.",
    "reply.channels_only": "The writers' room works in channels and threads.",
    "reply.write_after_command": "Write the Fountain lines after the command: !write INT. ...",
    "reply.script_empty": "The script is empty; ask for a /scene or /write some lines.",
    "reply.show_more": "… and {count} more messages' worth; /export for the rest.",
    "reply.picked": "Take {take} of proposal #{proposal} went in ({wrote})",
    "reply.no_open_proposal": "There is no proposal open to votes in this room.",
    "reply.exported": "The script as {format}.",
    "reply.file_too_large": "That file is too large to import (the limit is {limit:,} bytes).",
    "reply.imported": "Imported {file}: {lines} lines are now the room's script.",
    "reply.branch_where": "A branch starts from a text channel or one of its threads.",
    "reply.branch": "Branch",
    "reply.branch_title": "{title} (branch)",
    "reply.branched": "Branched into {thread}.",
    "reply.reset_confirm": (
        "A reset empties the story and cannot be undone; run it again with confirm True."
    ),
    "reply.reset_done": "The room's story is empty; start with /premise.",
    "reply.status_unavailable": "The model's status is not available.",
    "reply.room_pending": "This room: {count} proposal(s) pending.",
    "reply.name_showrunners": "Name the showrunners as mentions (@name, @role) or user ids.",
    "reply.proposal_failed": "Proposal #{proposal} failed: {why}",
    "reply.went_in": "Take {take} of proposal #{proposal} went in.",
    "reply.vote_unchanged": "Your vote is already on take {take}.",
    "reply.vote_moved": "Your vote moved to take {take}.",
    "reply.vote_counts": "Your vote for take {take} counts.",
    "reply.wrote_nothing": "Nothing went into the script.",
    "reply.where_line": "line {line}",
    "reply.where_lines": "lines {first}–{last}",
    "reply.wrote": "Wrote {lines} into the script ({where}).",
    "reply.take_too_long_for_form": (
        "Take {take} is too long to edit in a form ({length} characters; the form holds {limit}); "
        "write your version with /write instead."
    ),
    "reply.in_bible": "{name} is in the bible.",
    "reply.sheet_updated": "{name}'s sheet is updated.",
    "reply.location_updated": "The location {name} is updated.",
    "reply.beat_status": "Beat {number} ({status}): {text}",
    "reply.vary_no_open_proposal": (
        "There is no open proposal here; name one: /vary take:2 proposal:7"
    ),
    "reply.revise_line_text": 'Give line {line}\'s new text: text:"…"',
    "reply.scene_as_file": (
        "Scene {scene} as Fountain: edit it and send it back with /revise scene:{scene} "
        "file:<the file>."
    ),
    "reply.deleted_lines": "Deleted {lines}; /undo puts it back.",
    "reply.deleted_scene": "Deleted scene {scene} ({count} lines); /undo puts it back.",
    "reply.inserted": "Inserted {count} lines:",
    "reply.undone_word": "undone",
    "reply.draft_row": '"{name}" — <t:{at}:f>, <@{by}>, {scenes}',
    "reply.too_long_to_show": "{title} ({count} lines; /show for all)",
    "button.edit": "Edit {take}",
    "button.reroll": "Reroll",
    "modal.edit_title": "Edit take {take} of proposal #{proposal}",
    "modal.edit_label": "The take",
    "modal.write_title": "Write into the script",
    "modal.write_label": "Fountain lines",
    "modal.write_placeholder": "INT. KITCHEN - NIGHT\n\nMara pours two cups.",
    "modal.revise_title": "Revise scene {scene}",
    "modal.revise_label": "Scene {scene}",
    "modal.revise_part": "Scene {scene}, part {part}",
}
