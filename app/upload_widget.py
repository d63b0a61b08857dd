"""The upload box of the pages that take documents (Corpus, Score new documents): the upload
widget, its files staged once into the session folder (:func:`app.uploads.stage_uploads`) and
kept across page visits, the choice of how a text file holds its documents and a table's column
pickers. Each page has one :class:`UploadBox` with its own keys, and shows its own preview."""

from __future__ import annotations

import shutil
from dataclasses import dataclass

import streamlit as st

from app import state, ui, uploads
from corpora import CorpusError
from corpora.tables import NO_COLUMN

AUTO = "(automatic)"
NONE = "(none)"


@dataclass(frozen=True)
class UploadBox:
    """One page's upload widget, the staged copy of its files and the column pickers.

    Attributes
    ----------
    label : str
        The upload widget's label.
    key : str
        The upload widget's key.
    staged_key : str
        Session-state key of the staged copy: (signature of the files, the
        :class:`app.uploads.StagedUpload` or the message of a failed upload, its folder).
        ``staged_key + "_kept"`` marks a copy kept from before the page was last drawn.
    forget_key : str
        Key of the "Forget this upload" button.
    picker_prefix : str
        Prefix of the keys of the other widgets: ``{prefix}lines_mode``, ``{prefix}text_column``,
        ``{prefix}label_column``, ``{prefix}id_column``.
    subfolder : str
        Prefix of the session subfolder the files are written to.
    label_help : str
        Help of the Label column picker: what the page does with labels.
    """

    label: str
    key: str
    staged_key: str
    forget_key: str
    picker_prefix: str
    subfolder: str
    label_help: str

    @property
    def kept_key(self) -> str:
        return self.staged_key + "_kept"

    def staged(self, files, came_back: bool) -> uploads.StagedUpload | None:
        """The session's staged copy of the files in the upload widget (written once per upload).

        The browser forgets the files of an upload widget its page stopped drawing; ``came_back``
        (the widget is drawn afresh: the user visited another page or source and came back) keeps
        the staged copy in use until the user uploads other files or forgets it. A failed
        upload's message is told again until then.

        Raises
        ------
        CorpusError
            The files are not a corpus (:func:`app.uploads.stage_uploads`).
        """
        cached = st.session_state.get(self.staged_key)
        if not files:
            if cached is not None and not isinstance(cached[1], str) and (
                came_back or st.session_state.get(self.kept_key)
            ):
                st.session_state[self.kept_key] = True
                return cached[1]
            self.forget()
            return None
        st.session_state.pop(self.kept_key, None)
        signature = tuple((f.file_id, f.name, f.size) for f in files)
        if cached is not None and cached[0] == signature:
            if isinstance(cached[1], str):
                raise CorpusError(cached[1])
            return cached[1]
        self.forget()  # a new upload replaces the previous one's files
        limit = int(st.get_option("server.maxUploadSize")) * 1024 * 1024
        root = state.folder().new_subfolder(self.subfolder)
        try:
            staged = uploads.stage_uploads([(f.name, f.getvalue()) for f in files], root, max_bytes=limit)
        except CorpusError as exc:
            st.session_state[self.staged_key] = (signature, str(exc), root)
            raise
        st.session_state[self.staged_key] = (signature, staged, root)
        return staged

    def forget(self) -> None:
        """Drop the staged copy of the last upload and its files."""
        st.session_state.pop(self.kept_key, None)
        cached = st.session_state.pop(self.staged_key, None)
        if cached is not None:
            shutil.rmtree(cached[2], ignore_errors=True)

    def draw(self) -> tuple[uploads.StagedUpload | None, dict]:
        """The upload widget and, for tables, the column pickers.

        Returns
        -------
        staged : StagedUpload or None
            What to prepare or score (a "lines" file the user reads as one document already
            turned into a folder); None before any upload.
        columns : dict
            ``text_column``, ``label_column`` and ``id_column`` for a table (None: automatic;
            :data:`corpora.tables.NO_COLUMN`: none), else empty.
        """
        came_back = self.key not in st.session_state
        files = st.file_uploader(self.label, accept_multiple_files=True, key=self.key,
                                 help=f"Upload {uploads.SUPPORTED}.")
        st.caption(f"Accepted: {uploads.SUPPORTED}. Up to {st.get_option('server.maxUploadSize')} MB in all.")
        staged = self.staged(files, came_back)
        if staged is None:
            return None, {}
        if st.session_state.get(self.kept_key):
            c1, c2 = st.columns([4, 1])
            c1.write(f"Still uploaded from before: {staged.describe()}. Upload files above to replace it.")
            if c2.button("Forget this upload", key=self.forget_key, icon=":material/delete:"):
                self.forget()
                st.rerun()
        else:
            st.write(f"Uploaded: {staged.describe()}.")
        prefix = self.picker_prefix
        if staged.kind == "lines":
            whole = st.radio("This text file holds", ("one document per line", "one document"),
                             horizontal=True, key=f"{prefix}lines_mode", persist_state=ui.KEEP)
            if whole == "one document":
                staged = uploads.as_single_document(staged)
        if not staged.is_table:
            return staged, {}
        c1, c2, c3 = st.columns(3)
        text = c1.selectbox("Text column", (AUTO, *staged.columns), key=f"{prefix}text_column",
                            persist_state=ui.KEEP)
        label = c2.selectbox("Label column", (AUTO, NONE, *staged.columns), key=f"{prefix}label_column",
                             persist_state=ui.KEEP, help=self.label_help)
        doc_id = c3.selectbox("Id column", (AUTO, NONE, *staged.columns), key=f"{prefix}id_column",
                              persist_state=ui.KEEP, help="(none): the documents are numbered row-1, row-2, ...")
        picked = {AUTO: None, NONE: NO_COLUMN}
        return staged, {
            "text_column": None if text == AUTO else text,
            "label_column": picked.get(label, label),
            "id_column": picked.get(doc_id, doc_id),
        }
