"""ConfigEditor: a form generated from RunConfig's schema, validated as the user types.

Fields are grouped by the schema's ``group``; a field with no effect for the current choices
(``engine.config.layout.APPLIES_WHEN``) is hidden, and a filter box narrows fields by name.
Every problem ``validate_config`` finds appears under its field. The editor never starts
anything: it posts :class:`ConfigEditor.Changed` and, while a run is going,
:class:`ConfigEditor.LiveEdit` when a live field is submitted with Enter.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, Static

from engine.config.fields import FIELD_GROUPS, ConfigError
from engine.config.files import list_presets, save_config
from engine.config.layout import APPLIES_WHEN, field_applies, field_group
from engine.config.table import BY_NAME, LIVE_NAMES, NAMES
from engine.config.table import defaults as default_values
from engine.run.folder import CONFIG_FILE
from engine.safe_write import WriteError
from tui.dashboard.textual_fixes import focus_now
from tui.dashboard.widgets.field_filter import FieldFilter

if TYPE_CHECKING:
    from engine.config.schema import RunConfig

# The rows come from engine.config.table, so the first frame needs no pydantic; RunConfig
# (pydantic and the schema: 0.1-0.2 s) loads at the first validation, right after that frame.


def _choices(name: str) -> list[str] | None:
    """The allowed strings of a Literal field, 'true'/'false' for a bool, else None."""
    choices = BY_NAME[name].choices
    return list(choices) if choices else None


EAGER_GROUPS = 1  # groups of rows in the dashboard's first frame; then one more per refresh

# Fields whose value decides whether others apply (model, tokenizer, lr_schedule).
CONTROLLERS = frozenset(rule[0] for rule in APPLIES_WHEN.values())


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class ConfigEditor(Vertical):
    """Every RunConfig field as a row: name, input, error; description and range below."""

    # A live field's note (applying…, then the applied value): a reusable part of the editor.
    DEFAULT_CSS = """
    ConfigEditor .field-live {
        width: 1fr;
        padding: 0 0 0 2;
        color: $text-accent;
    }
    """

    DEFER_ROWS: bool | None = None  # mount rows after the first frame; None: unless headless

    class Changed(Message):
        """The form changed: ``config`` is valid, or None with ``problems`` by field name."""

        def __init__(self, config: RunConfig | None, problems: dict[str, str]) -> None:
            super().__init__()
            self.config = config
            self.problems = problems

    class LiveEdit(Message):
        """During a run, the user submitted a valid new value for a live field."""

        def __init__(self, name: str, value: Any) -> None:
            super().__init__()
            self.name = name
            self.value = value

    def __init__(
        self, config: RunConfig | None, config_path: str = "", *, id: str | None = None
    ) -> None:
        """``config`` None: RunConfig's defaults, shown before pydantic is loaded."""
        super().__init__(id=id)
        self._config_path = config_path
        self.config: RunConfig | None = config
        self.problems: dict[str, str] = {}
        self.running = False
        # Started from the defaults: the first validation (pydantic's import) waits for the
        # first frame; until then the Changed events of mounting widgets validate nothing.
        self._first_validation_pending = config is None
        values = default_values() if config is None else config.model_dump()
        # Every field's text, for the rows not mounted yet (see compose); a mounted row's
        # widget holds its own.
        self._texts = {name: _as_text(values[name]) for name in NAMES}
        self._pending_groups: list[tuple[str, list[str]]] = []
        # Rows built but not yet registered in inputs/errors/rows (see _register).
        self._built: dict[str, tuple[Widget, Input | Select, Label]] = {}
        self._built_titles: dict[str, Label] = {}
        self._live_notes: dict[str, Label] = {}
        self._applying: dict[str, str] = {}  # live field -> the text sent, until confirmed

    def compose(self) -> ComposeResult:
        with Horizontal(id="editor-toolbar"):
            yield Input(
                self._config_path or CONFIG_FILE,
                placeholder="config file or preset",
                id="config-path",
            )
            yield Button("Load", id="config-load")
            yield Button("Save", id="config-save")
            yield Button("Reset", id="config-reset")
        with Horizontal(id="editor-finder"):
            yield FieldFilter(
                self._jump_to_match, placeholder="/ filter fields by name", id="config-filter"
            )
            yield Select(
                [(name, name) for name in list_presets()],
                prompt="preset…",
                id="config-preset",
            )
        yield Label("", id="config-summary")
        # The first frame shows the first group's rows only: the ~370 widgets of every row
        # took most of the dashboard's 2.3 s to its first frame. The rest mount right after
        # it, a group per refresh (under run_test, all at once: tests query any field).
        groups = [(group, [n for n in NAMES if field_group(n) == group]) for group in FIELD_GROUPS]
        groups = [(group, names) for group, names in groups if names]
        defer = not self.app.is_headless if self.DEFER_ROWS is None else self.DEFER_ROWS
        first = EAGER_GROUPS if defer else len(groups)
        self._pending_groups = groups[first:]
        with VerticalScroll(id="editor-fields"):
            for group, names in groups[:first]:
                yield from self._group_widgets(group, names)

    def _group_widgets(self, group: str, names: list[str]) -> list[Widget]:
        """A group's title and the rows of its fields."""
        title = Label(group, id=f"group-{group.replace(' ', '-')}", classes="group-title")
        self._built_titles[group] = title
        return [title, *(self._row(name) for name in names)]

    def _row(self, name: str) -> Widget:
        """One field: name and value on a row, its full error (when any), its help."""
        row = BY_NAME[name]
        live = name in LIVE_NAMES
        value = self._texts[name]
        choices = _choices(name)
        box: Input | Select = (
            Select(
                [(c, c) for c in choices],
                value=value,
                allow_blank=False,
                id=f"field-{name}",
                classes="field-input",
            )
            if choices
            else Input(value, id=f"field-{name}", classes="field-input")
        )
        # Under the row, full width and wrapping: a pydantic message is often long.
        error = Label("", id=f"error-{name}", classes="field-error", markup=False)
        parts: list[Widget] = [
            Horizontal(
                Label(name + (" ●" if live else ""), classes="field-name"), box, classes="field-row"
            ),
            error,
        ]
        if live:  # "applying…" from Enter until the trainer's ConfigChanged, then the value
            note = Label("", id=f"live-{name}", classes="field-live", markup=False)
            note.display = False
            self._live_notes[name] = note
            parts.append(note)
        parts.append(
            Static(f"{row.description} [{row.allowed}]", classes="field-help", markup=False)
        )
        widget = Vertical(*parts, id=f"row-{name}", classes="field" + (" live" if live else ""))
        self._built[name] = (widget, box, error)
        return widget

    def on_mount(self) -> None:
        self.inputs: dict[str, Input | Select] = {}
        self.errors: dict[str, Label] = {}
        self.rows: dict[str, Widget] = {}
        self.group_titles: dict[str, Label] = {}
        self.filter_text = ""
        self.summary = self.query_one("#config-summary", Label)
        self._shown: dict[str, str] = {}
        self._register()
        if self._first_validation_pending:
            # RunConfig's defaults, valid by construction: say so now and validate (which
            # loads pydantic) once the first frame is on screen.
            self.summary.update(self._summary_text({}), layout=False)
            self.call_after_refresh(self.validate_form)
        else:
            self.validate_form()
        self.update_visibility()
        if self._pending_groups:
            self.call_after_refresh(self._mount_next_group)

    def _register(self) -> None:
        """Cache the rows just mounted (querying ~200 widgets per keystroke would lag the
        typing) and lock them as the rest are locked while a run goes."""
        for name, (row, box, error) in self._built.items():
            self.rows[name], self.inputs[name], self.errors[name] = row, box, error
            box.disabled = self.running and name not in LIVE_NAMES
        self.group_titles.update(self._built_titles)
        self._built, self._built_titles = {}, {}

    async def _mount_next_group(self) -> None:
        """Mount one more group of rows, then schedule the next after the next refresh."""
        if not self._pending_groups or not self.is_attached:
            return
        group, names = self._pending_groups.pop(0)
        fields = self.query_one("#editor-fields")
        await fields.mount_all(self._group_widgets(group, names))
        self._register()
        self.validate_form()  # shows the new rows' errors (only what changed is touched)
        self.update_visibility()
        if self._pending_groups:
            self.call_after_refresh(self._mount_next_group)

    @property
    def complete(self) -> bool:
        """Every field's row is mounted (true from the first frame under run_test)."""
        return not self._pending_groups and len(self.inputs) == len(NAMES)

    # --- which fields are on screen ----------------------------------------------------
    def visible_fields(self) -> list[str]:
        """The fields that apply to the current choices and match the filter."""
        values = {name: self._text(name) for name in CONTROLLERS}
        needle = self.filter_text.strip().lower()
        return [name for name in NAMES if field_applies(name, values) and needle in name.lower()]

    def update_visibility(self) -> None:
        """Hide fields that do not apply or do not match the filter, and empty groups."""
        shown = set(self.visible_fields())
        for name, row in self.rows.items():
            if row.display != (name in shown):
                row.display = name in shown
        for group, title in self.group_titles.items():
            title.display = any(field_group(n) == group for n in shown)

    @on(Input.Changed, "#config-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.filter_text = event.value
        self.update_visibility()

    def _jump_to_match(self) -> None:
        """Enter in the filter: the cursor to the first field matching the box as it is now
        (its Changed messages may still be queued behind the key)."""
        self.filter_text = self.query_one("#config-filter", Input).value
        self.update_visibility()
        self.focus_first_field()

    def focus_filter(self) -> None:
        """Put the cursor in the filter box (before the next key is read: see focus_now)."""
        focus_now(self.query_one("#config-filter", Input))

    @on(Select.Changed, "#config-preset")
    def _preset_chosen(self, event: Select.Changed) -> None:
        event.stop()
        if event.value is not Select.BLANK:
            self.load_preset(str(event.value))
            event.select.clear()  # back to "preset…": choosing it again reloads it

    def load_preset(self, name: str) -> None:
        """Load the named preset into the form (refused while a run is going)."""
        if self.running:
            self.notify("Stop the run before loading a preset.", severity="warning")
            return
        from engine.config.schema import load_config

        try:
            config = load_config(name)
        except ConfigError as exc:
            self.notify(str(exc), title="Cannot load preset", severity="error", timeout=10)
            return
        self.query_one("#config-path", Input).value = name
        self.set_config(config)
        self.notify(f"Loaded preset {name}")

    # --- reading and validating -------------------------------------------------------
    def _text(self, name: str) -> str:
        widget = self.inputs.get(name)
        if widget is None:  # its row is not mounted yet
            return self._texts[name]
        return str(widget.value) if isinstance(widget, Select) else widget.value

    def raw_values(self) -> dict[str, Any]:
        """Every field's current value, parsed from its text the way ``--set`` parses."""
        from engine.config.schema import parse_value

        return {name: parse_value(name, self._text(name)) for name in NAMES}

    def validate_form(self) -> RunConfig | None:
        """Validate every field together; show each problem beside its field; post Changed."""
        from engine.config.schema import validate_config

        self._first_validation_pending = False
        try:
            config = validate_config(self.raw_values(), source="editor")
            problems: dict[str, str] = {}
        except ConfigError as exc:
            config, problems = None, dict(exc.problems)
        self.config, self.problems = config, problems
        for name in self.inputs:
            why = problems.get(name, "")
            if self._shown.get(name, "") != why:  # touch only what changed
                self._shown[name] = why
                # A layout only when an error appears, changes or goes, not per keystroke.
                self.errors[name].update(f"✗ {why}" if why else "")
                self.errors[name].display = bool(why)
                self.inputs[name].set_class(bool(why), "-invalid-field")
        text = self._summary_text(problems)
        if self._shown.get("", None) != text:
            self._shown[""] = text
            self.summary.update(text, layout=False)
            self.summary.set_class(bool(problems), "-error")
        self.post_message(self.Changed(config, problems))
        return config

    def _summary_text(self, problems: dict[str, str]) -> str:
        if problems:
            noun = "field" if len(problems) == 1 else "fields"
            return f"✗ {len(problems)} invalid {noun}: start is disabled"
        if self.running:
            return "Running: only ● fields can change; press Enter to apply"
        return "✓ config valid"

    @on(Input.Changed, ".field-input")
    @on(Select.Changed, ".field-input")
    def _field_changed(self, event: Input.Changed | Select.Changed) -> None:
        event.stop()
        if not self._first_validation_pending:  # else it is coming, and reads every field
            self.validate_form()
        if (event.control.id or "").removeprefix("field-") in CONTROLLERS:
            self.update_visibility()

    @on(Input.Submitted, ".field-input")
    def _field_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        name = (event.input.id or "").removeprefix("field-")
        if self.running and name in LIVE_NAMES and self.validate_form() is not None:
            self._applying[name] = event.value
            self._show_live_note(name, "applying… (between two steps)")
            self.post_message(self.LiveEdit(name, getattr(self.config, name)))

    def _show_live_note(self, name: str, text: str) -> None:
        note = self._live_notes.get(name)
        if note is not None:
            note.update(text)
            note.display = bool(text)

    def live_applied(self, name: str, value: Any, step: int) -> None:
        """The trainer applied a live change: the field shows the value it trains with.

        The box takes that value too, unless the user has typed on since Enter.
        """
        sent = self._applying.pop(name, None)
        widget = self.inputs.get(name)
        text = _as_text(value)
        if isinstance(widget, Input) and (sent is None or widget.value == sent):
            self._texts[name] = text
            if widget.value != text:
                widget.value = text
        self._show_live_note(name, f"✓ {text} from step {step}")

    # --- writing ----------------------------------------------------------------------
    def set_config(self, config: RunConfig) -> None:
        """Show ``config`` in every field (then validation runs on the change events)."""
        for name in NAMES:
            self._texts[name] = _as_text(getattr(config, name))
            if name in self.inputs:
                self.inputs[name].value = self._texts[name]
        self.validate_form()
        self.update_visibility()

    def set_running(self, running: bool) -> None:
        """While running, lock every field that the trainer cannot change between steps."""
        self.running = running
        self._applying.clear()  # a run that ended confirms nothing more; a new one starts clean
        for name in self._live_notes:
            self._show_live_note(name, "")
        for name, widget in self.inputs.items():
            widget.disabled = running and name not in LIVE_NAMES
        for button in ("#config-load", "#config-reset"):
            self.query_one(button, Button).disabled = running
        self.query_one("#config-preset", Select).disabled = running
        self.validate_form()

    @on(Button.Pressed, "#config-reset")
    def reset_defaults(self) -> None:
        """Put every field back to RunConfig's defaults."""
        from engine.config.schema import RunConfig

        self.set_config(RunConfig())
        self.notify("Config reset to defaults")

    @on(Button.Pressed, "#config-load")
    def load_file(self) -> None:
        """Load the file (or preset) named in the path box."""
        path = self.query_one("#config-path", Input).value.strip()
        try:
            if not path:
                raise ConfigError({"path": "empty: type a JSON file or a preset name"}, "Load")
            from engine.config.schema import load_config

            config = load_config(path)
        except (ConfigError, OSError) as exc:
            self.notify(str(exc), title="Cannot load config", severity="error", timeout=10)
            return
        self.set_config(config)
        self.notify(f"Loaded {path}")

    @on(Button.Pressed, "#config-save")
    def save_file(self) -> None:
        """Save the current config to the path box's file; refused while a field is invalid."""
        path = self.query_one("#config-path", Input).value.strip()
        config = self.validate_form()
        if config is None:
            self.notify("Fix the invalid fields before saving", severity="error")
            return
        try:
            save_config(config, Path(path))
        except OSError as exc:  # WriteError (a folder, FIFO, device...) says it in one line
            message = str(exc) if isinstance(exc, WriteError) else f"Cannot save {path}: {exc}"
            self.notify(message, severity="error", timeout=10)
            return
        self.notify(f"Saved {path}")

    def focus_first_field(self) -> None:
        """Move focus to the first editable field on screen."""
        for name in self.visible_fields():
            widget = self.inputs.get(name)
            if widget is not None and not widget.disabled:
                focus_now(widget)
                return
