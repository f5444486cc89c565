"""What residents use: joining, reporting in their own words, following their issues, the 回访,
their profile and their data."""
