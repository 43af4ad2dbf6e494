"""Search attributes a session keeps current, for operators filtering in the Temporal UI."""

from temporalio.common import SearchAttributeKey

TENANT = SearchAttributeKey.for_keyword("ConvoflowTenant")
USER = SearchAttributeKey.for_keyword("ConvoflowUser")
STATUS = SearchAttributeKey.for_keyword("ConvoflowStatus")
MESSAGE_COUNT = SearchAttributeKey.for_int("ConvoflowMessageCount")
LAST_ACTIVITY = SearchAttributeKey.for_datetime("ConvoflowLastActivity")
ISSUE_COUNT = SearchAttributeKey.for_int("ConvoflowIssueCount")
"""Issues the session ever had (a failed turn, a refused signal, a failed recording...)."""
LAST_ISSUE_AT = SearchAttributeKey.for_datetime("ConvoflowLastIssueAt")

ALL_KEYS = (TENANT, USER, STATUS, MESSAGE_COUNT, LAST_ACTIVITY, ISSUE_COUNT, LAST_ISSUE_AT)


def dev_server_flags() -> list[str]:
    """``--search-attribute K=Type`` flags registering every key on the dev server."""
    kinds = [
        (TENANT.name, "Keyword"),
        (USER.name, "Keyword"),
        (STATUS.name, "Keyword"),
        (MESSAGE_COUNT.name, "Int"),
        (LAST_ACTIVITY.name, "Datetime"),
        (ISSUE_COUNT.name, "Int"),
        (LAST_ISSUE_AT.name, "Datetime"),
    ]
    flags: list[str] = []
    for name, kind in kinds:
        flags += ["--search-attribute", f"{name}={kind}"]
    return flags
