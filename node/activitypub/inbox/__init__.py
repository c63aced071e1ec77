"""The inbox: verify and store incoming activities, then process them from the stored rows."""
