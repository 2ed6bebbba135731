"""The detection core: data contracts, customer state, features, rules and scoring.

Plain typed Python with no Faust, Kafka or other I/O, so the live agents and the
offline backtest run exactly the same code. Time always comes in with the event.
"""
