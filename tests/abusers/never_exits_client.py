# Prints, then sleeps forever: what it printed must still be in the report.
import time
print("about to wait", flush=False)
time.sleep(3600)
