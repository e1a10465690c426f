"""Errors a user can fix (bad file, bad config value); shown without traceback."""


class UserError(ValueError):
  """A problem with the user's input; the message names it and the fix."""
