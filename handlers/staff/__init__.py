"""What community workers use: the issue card in the staff group and its buttons, /todo,
/issue, the service desk, posters and reminders."""
