"""Publishing documents/ and automation/ as SSM document versions: validate, plan, then write."""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import ClientError

from releaseflow.deploy import check_parameters
from releaseflow.documents import Document
from releaseflow.errors import ReleaseflowError, UsageError
from releaseflow.findings import Finding
from releaseflow.pinning import rewrite_runbook
from releaseflow.rules._aws_owned import has_reserved_prefix
from releaseflow.rules.document_name import NAME as DOCUMENT_NAME
from releaseflow.sources import source_folders
from releaseflow.validation import load_and_validate

COMMIT_TAG = "releaseflow:commit"
REPOSITORY_TAG = "releaseflow:repository"
_VERSION_NAME_UNSAFE = re.compile(r"[^a-zA-Z0-9_\-.]")


class ValidationFailed(ReleaseflowError):
    """Validation found errors, so nothing was published."""

    def __init__(self, findings: list[Finding]):
        super().__init__(f"validation found {len(findings)} error(s); nothing was published")
        self.findings = findings


class PublishError(ReleaseflowError):
    """The service refused a write in a way a rerun cannot fix by itself."""


@dataclass(frozen=True)
class PublishedDocument:
    """One document's outcome. `version` is the default version after publishing (in a dry run: the
    version it would get); `diff` is the unified diff from the published default to the new content."""

    name: str
    action: str  # create | update | unchanged
    version: str
    document_type: str
    diff: str = ""


@dataclass(frozen=True)
class PublishResult:
    documents: tuple[PublishedDocument, ...]
    dry_run: bool

    @property
    def changed(self) -> tuple[PublishedDocument, ...]:
        return tuple(document for document in self.documents if document.action != "unchanged")


@dataclass(frozen=True)
class _Published:
    content: str
    version: str


def publish_documents(
    ssm_client, root: Path, *, prefix="", dry_run=False, commit=None, repository=None, defaults=None
) -> PublishResult:
    """Validate, then create or update every document under root's documents/ and automation/.

    Command documents go first so each runbook can be published with its aws:runCommand steps pinned
    (DocumentHash) to the versions published with it. Unchanged documents cost one GetDocument (and a
    Command document one DescribeDocument, for its hash) and no write.
    `defaults` (an environment's parameters) become the runbooks' parameter defaults; each value is
    checked against the parameter's allowedValues and allowedPattern first.
    """
    root = Path(root)
    folders = source_folders(root)
    sources, findings = load_and_validate(folders)
    errors = [finding for finding in findings if finding.is_error]
    if errors:
        raise ValidationFailed(errors)
    check_prefix(prefix, [document.name for document in sources])
    for document in sources:
        if document.document_type == "Automation" and defaults:
            check_defaults(document, defaults)
    # Runbooks after Command documents: their pins need the Command documents' hashes.
    sources.sort(key=lambda document: (document.document_type == "Automation", document.name))
    names = {document.name: prefix + document.name for document in sources}
    hashes: dict[str, str] = {}
    results = []
    for source in sources:
        fmt = "JSON" if source.path.endswith(".json") else "YAML"
        if source.document_type == "Automation":
            text = rewrite_runbook(source.text, fmt, names=names, hashes=hashes, defaults=defaults)
        else:
            text = source.text
        result = _publish_one(
            ssm_client,
            source,
            names[source.name],
            text,
            fmt,
            dry_run=dry_run,
            commit=commit,
            repository=repository,
        )
        if result.document_type == "Command":
            hashes[result.name] = _hash(ssm_client, result, text, dry_run=dry_run)
        results.append(result)
    return PublishResult(documents=tuple(results), dry_run=dry_run)


def check_prefix(prefix: str, names: list[str]) -> None:
    """Refuse a prefix that makes a name SSM refuses, before a dry run plans what could never be created."""
    for name in names:
        full = prefix + name
        if not DOCUMENT_NAME.fullmatch(full):
            raise UsageError(
                f"--prefix {prefix!r}: document name {full!r} would not be valid: use only letters, "
                "digits, '_', '-' and '.' (128 at most), such as staging-"
            )
        if prefix and has_reserved_prefix(full):
            raise UsageError(
                f"--prefix {prefix!r}: document name {full!r} starts with a prefix SSM reserves for AWS "
                "(aws, amazon, amzn); choose another prefix"
            )


def check_defaults(document: Document, defaults) -> None:
    """Refuse an environment value the runbook would refuse as a parameter, before it becomes a default."""
    specs = document.content.get("parameters") or {}
    declared = {name: values for name, values in defaults.items() if name in specs and any(values)}
    try:
        check_parameters(declared, specs)
    except UsageError as error:
        raise UsageError(f"{document.path}: as a default: {error}") from error


def version_name(commit: str | None, content: str) -> str:
    """A VersionName unique per content: the commit (SSM cannot tag a version) and a content digest."""
    digest = hashlib.sha256(content.encode()).hexdigest()
    if not commit:
        return f"sha256-{digest[:16]}"
    return f"{_VERSION_NAME_UNSAFE.sub('-', commit)[:100]}-{digest[:12]}"


def _publish_one(
    ssm, source: Document, name: str, text: str, fmt: str, *, dry_run, commit, repository
) -> PublishedDocument:
    current = _default_version(ssm, name, fmt)
    kind = source.document_type
    assert kind is not None, "publish validates first: every document it publishes has a known schemaVersion"
    if current is not None and current.content == text:
        return PublishedDocument(name, "unchanged", current.version, kind)
    action = "create" if current is None else "update"
    diff = _diff(name, current, text, source.path)
    if dry_run:
        next_version = "1" if current is None else _next_version(ssm, name)
        return PublishedDocument(name, action, next_version, kind, diff)
    tags = [
        {"Key": key, "Value": value}
        for key, value in ((COMMIT_TAG, commit), (REPOSITORY_TAG, repository))
        if value
    ]
    label = version_name(commit, text)
    if current is None:
        created = ssm.create_document(
            Content=text,
            Name=name,
            DocumentType=kind,
            DocumentFormat=fmt,
            VersionName=label,
            **({"Tags": tags} if tags else {}),
        )
        return PublishedDocument(name, action, created["DocumentDescription"]["DocumentVersion"], kind, diff)
    version = _add_version(ssm, name, text, fmt, label)
    ssm.update_document_default_version(Name=name, DocumentVersion=version)
    if tags:
        ssm.add_tags_to_resource(ResourceType="Document", ResourceId=name, Tags=tags)
    return PublishedDocument(name, action, version, kind, diff)


def _hash(ssm, result: PublishedDocument, text: str, *, dry_run: bool) -> str:
    """The service's Sha256 hash of the version just published (the one the runbook will run)."""
    if dry_run and result.action != "unchanged":
        # Not created yet: only a preview of the diff, so the content's own digest stands in.
        return hashlib.sha256(text.encode()).hexdigest()
    return ssm.describe_document(Name=result.name, DocumentVersion=result.version)["Document"]["Hash"]


def _add_version(ssm, name: str, text: str, fmt: str, label: str) -> str:
    """Add the content as a new version, or find the version an interrupted publish already added."""
    try:
        updated = ssm.update_document(
            Content=text, Name=name, DocumentVersion="$LATEST", DocumentFormat=fmt, VersionName=label
        )
        return updated["DocumentDescription"]["DocumentVersion"]
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code not in ("DuplicateDocumentContent", "DuplicateDocumentVersionName"):
            raise
    existing = _version_with_content(ssm, name, text, fmt)
    if existing is None:
        raise PublishError(
            f"{name}: the service reports a duplicate of {label}, but no version holds this content"
        )
    return existing


def _version_with_content(ssm, name: str, text: str, fmt: str) -> str | None:
    """Newest first, since an interrupted publish leaves its version as the latest."""
    latest = int(ssm.describe_document(Name=name)["Document"]["LatestVersion"])
    for version in map(str, range(latest, 0, -1)):
        if ssm.get_document(Name=name, DocumentVersion=version, DocumentFormat=fmt)["Content"] == text:
            return version
    return None


def _default_version(ssm, name: str, fmt: str) -> _Published | None:
    try:
        found = ssm.get_document(Name=name, DocumentFormat=fmt)
    except ClientError as error:
        if error.response["Error"]["Code"] == "InvalidDocument":
            return None
        raise
    return _Published(found["Content"], found["DocumentVersion"])


def _next_version(ssm, name: str) -> str:
    latest = ssm.describe_document(Name=name)["Document"]["LatestVersion"]
    return str(int(latest) + 1)


def _diff(name: str, current: _Published | None, text: str, path: str) -> str:
    before = current.content.splitlines(keepends=True) if current else []
    published = f"{name} (default version {current.version})" if current else f"{name} (absent)"
    lines = difflib.unified_diff(before, text.splitlines(keepends=True), fromfile=published, tofile=path)
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
