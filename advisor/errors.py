"""The advisor's own exceptions: each carries a one-line message a user can act on."""


class AdvisorError(Exception):
    """A problem the user can fix; interfaces show `title` and the message, never a traceback."""

    title = "Advisor error"

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(AdvisorError, ValueError):
    title = "Bad setting"


class CorpusError(AdvisorError):
    title = "Corpus problem"


class QAFileError(AdvisorError):
    title = "Question/answer file problem"


class ModelNotFoundError(AdvisorError):
    title = "Model not available"


class DeviceError(AdvisorError):
    title = "Device not available"


class VectorStoreError(AdvisorError):
    title = "Vector store problem"


class TrainingError(AdvisorError):
    """The fine-tune's training processes failed."""

    title = "Training failed"


class RunInUseError(AdvisorError):
    """Another run is using the same run folder."""

    title = "Run folder in use"


class RunCancelled(AdvisorError):
    """The run was stopped on request at a progress point; what finished is kept for the next run."""

    title = "Run cancelled"


class ExportError(AdvisorError):
    title = "Export problem"
