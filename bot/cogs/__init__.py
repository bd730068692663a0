"""One cog per feature: creating, jobs, moderation, privacy."""
