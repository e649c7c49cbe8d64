"""Ways in other than the chat page: WhatsApp (Meta's Cloud API, or Twilio) and the
helpdesk tools for export-help-desk staff.

Every phone channel goes through ``bridge.Bridge`` (one inbound message -> the replies
it gets, answered by the same pipeline as the chat page, in the same conversations
tables) and writes its answers with ``phone`` (short first, sources, "More").
"""
