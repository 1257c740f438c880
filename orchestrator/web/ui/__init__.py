"""Server-rendered pages for staff: sign-in, inbox, task forms, case view, administration."""
