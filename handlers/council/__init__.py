"""The courtyard council and consent campaigns: topics, meetings, campaigns and their votes."""
