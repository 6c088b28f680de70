"""Late-payment risk and cash forecast: features (SQL, sql/ risk_features_at), the calibrated models
(model.py, stored in risk_models), the reasons told to owners (reasons.py), the Monte-Carlo cash forecast
(forecast.py) and the rolling-origin backtest (backtest.py). The registered reads lease_risk and
cash_forecast (akig_data/reads/risk.py) serve them; `akig model train|backtest` runs them.
docs/explanation/risk-and-forecast.md says how and how well.
"""
