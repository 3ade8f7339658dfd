# An infinite loop that never reads its input nor exits.
x = 0
while True:
    x += 1
