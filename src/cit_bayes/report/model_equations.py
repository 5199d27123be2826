"""The patient-level models in equations, for the methods supplement.

The statements follow the models as coded (:mod:`cit_bayes.bayes.response`, ``trajectory``,
``recovery``, ``safety``; checked against each ``_build``), not only their docstrings. The prior
values printed beside them are read from the analysis plan that was run (``AnalysisPlan.priors``,
never typed here); :data:`PRIOR_SYMBOLS` says which symbol each plan field sets.
"""

from __future__ import annotations

from cit_bayes.report.document import Equation

__all__ = [
    "ARM_SLOPES_EQUATION",
    "ARM_SLOPES_TEXT",
    "GROUP_EQUATION",
    "GROUP_TEXT",
    "MODEL_EQUATIONS",
    "MODEL_TEXT",
    "MODEL_TITLES",
    "POOLED_EQUATIONS",
    "POOLED_TEXT",
    "PRIOR_SYMBOLS",
]

#: Section titles of the four models, by endpoint key.
MODEL_TITLES: dict[str, str] = {
    "response": "Response (binary)",
    "plt": "Platelet trajectory",
    "recovery": "Time to platelet recovery (discrete-time hazard)",
    "safety": "Safety events (weighted binomial)",
}

#: One or more displayed equations per endpoint (LaTeX, and a plain-text rendering for HTML).
MODEL_EQUATIONS: dict[str, tuple[Equation, ...]] = {
    "response": (
        Equation(
            r"\operatorname{logit} P(y_i = 1) = \alpha_{a_i} + x_i^\top \beta,\quad "
            r"\alpha_a \sim F(m_\alpha, s_\alpha)\ \text{independently},\quad "
            r"\beta_j \sim N(0, s_\beta)",
            "logit P(y_i = 1) = alpha[a_i] + x_i' beta;  alpha[a] ~ F(m_alpha, s_alpha) "
            "independently;\nbeta_j ~ N(0, s_beta)",
        ),
        Equation(
            r"p_a = \frac{\sum_i h_i \operatorname{expit}(\alpha_a + x_i^\top\beta)}{\sum_i h_i}",
            "p[a] = sum_i h_i expit(alpha[a] + x_i' beta) / sum_i h_i   (g-computation)",
        ),
    ),
    "plt": (
        Equation(
            r"\log \mathrm{PLT}_{i\cdot} \sim N(\mu_{i\cdot}, \Sigma_{a_i}),\quad "
            r"\mu_{id} = \theta_{a_i d} + \gamma_d b_i + x_i^\top\beta,\quad "
            r"\theta_{ad} \sim N(c_\theta, s_\theta)\ \text{independently}",
            "log PLT[i, days] ~ N(mu[i, days], Sigma[a_i]);  mu[i,d] = theta[a_i,d] + gamma[d] b_i "
            "+ x_i' beta;\ntheta[a,d] ~ N(c_theta, s_theta) independently",
        ),
        Equation(
            r"\Sigma_a = \operatorname{diag}(s_a)\, R \operatorname{diag}(s_a),\ "
            r"s_{ad} \sim \mathrm{HalfNormal}(s_s),\ R \sim \mathrm{LKJ}(\eta),\quad "
            r"\gamma_d \sim N(0, s_\gamma),\ \beta_j \sim N(0, s_\beta)",
            "Sigma[a] = diag(s[a]) R diag(s[a]), s[a,d] ~ HalfNormal(s_s), R ~ LKJ(eta);\n"
            "gamma[d] ~ N(0, s_gamma), beta_j ~ N(0, s_beta)",
        ),
        Equation(
            r"M_{ad} = \frac{\sum_i h_i \exp(\theta_{ad} + \gamma_d b_i + x_i^\top\beta "
            r"+ s_{ad}^2/2)}{\sum_i h_i},\quad "
            r"\Delta_a = M_{a,\mathrm{last}} - \frac{\sum_i h_i \mathrm{PLT}_{i0}}{\sum_i h_i}",
            "M[a,d] = sum_i h_i exp(theta[a,d] + gamma[d] b_i + x_i' beta + s[a,d]^2/2) "
            "/ sum_i h_i;\nDelta[a] = M[a,last] - sum_i h_i PLT[i,0] / sum_i h_i",
        ),
    ),
    "recovery": (
        Equation(
            r"\operatorname{cloglog} h_{it} = \lambda_{a_i t} + x_i^\top\beta,\quad "
            r"\lambda_{at} = \nu_a + \delta_a s_t + \sigma (Z u_a)_t,\quad "
            r"\nu_a \sim N(m_\nu, s_\nu),\ \delta_a \sim N(0, s_\delta),\ "
            r"u_a \sim N(0, I_r)\ \text{independently}",
            "cloglog h[i,t] = lambda[a_i,t] + x_i' beta;  lambda[a,t] = nu[a] + delta[a] s[t] + "
            "sigma (Z u[a])[t];\nnu[a] ~ N(m_nu, s_nu), delta[a] ~ N(0, s_delta), u[a] ~ N(0, I_r) "
            "independently   (low-rank RW2 smooth per arm)",
        ),
        Equation(
            r"\sigma \sim \mathrm{HalfNormal}(s_\sigma),\ \beta_j \sim N(0, s_\beta),\quad "
            r"\eta_a = \bar\lambda_{a\cdot} - \tfrac1K \sum_b \bar\lambda_{b\cdot}",
            "sigma ~ HalfNormal(s_sigma), beta_j ~ N(0, s_beta);\n"
            "eta[a] = mean_t lambda[a,t] - mean over arms (day-averaged arm effect)",
        ),
        Equation(
            r"S_a(t) = \frac{\sum_i h_i \exp\!\big(-e^{x_i^\top\beta}\Lambda_{at}\big)}"
            r"{\sum_i h_i},\quad \Lambda_{at} = \sum_{s\le t} e^{\lambda_{as}},\quad "
            r"\mathrm{RMTR}_a = \sum_{t=0}^{T-1} S_a(t)",
            "S[a](t) = sum_i h_i exp(-exp(x_i' beta) Lambda[a,t]) / sum_i h_i, "
            "Lambda[a,t] = sum_{s<=t} exp(lambda[a,s]);\nRMTR[a] = sum_{t=0}^{T-1} S[a](t)  "
            "(S[a](0) = 1)",
        ),
    ),
    "safety": (
        Equation(
            r"p_{ea} \sim \mathrm{Beta}(a_0, b_0),\quad "
            r"\log L = \sum_{e,a} Y_{ea}\log p_{ea} + N_{ea}\log(1-p_{ea})",
            "p[e,a] ~ Beta(a0, b0);  log L = sum_{e,a} Y[e,a] log p[e,a] + N[e,a] log(1 - p[e,a])",
        ),
    ),
}

#: The words that go with each model (what the symbols are, how weights enter).
MODEL_TEXT: dict[str, str] = {
    "response": (
        "Response (the cohort's response rule) is modelled as Bernoulli with a logit link: arm "
        "intercepts $\\alpha_a$ independent across arms (the regimens are not exchangeable, so no arm "
        "is pulled toward the others; by default a logistic prior, flat on the rate of the "
        "reference patient), covariate coefficients $\\beta$ "
        "on the standardised design $x$. Weights enter as a weighted log-likelihood, rescaled "
        "within each arm so that they sum to the arm's Kish effective sample size (so the "
        "pseudo-likelihood carries about the information of that many patients). The reported "
        "rate of arm $a$ is the g-computation average over the target population (tilting $h$: 1 for "
        "all patients under the ATE, the overlap tilting under the ATO); in the unadjusted "
        "analysis there are no covariates and no weights, and $p_a = \\operatorname{expit}(\\alpha_a)$."
    ),
    "plt": (
        "Log platelet counts on the follow-up days are multivariate normal per patient: arm-by-day "
        "levels $\\theta_{ad}$ independent across arms and days; a day-specific slope $\\gamma_d$ on the centred "
        "log baseline count $b$ (zero in the unadjusted analysis); covariates; and an unstructured "
        "within-patient covariance $\\Sigma_a$ (day-specific SDs $s_{ad}$, LKJ correlation $R$), which holds the "
        "random-intercept model as a special case. Patient effects are integrated out (each "
        "patient contributes the marginal normal density of the counts recorded), so the model "
        "has no per-patient parameter. Missing counts are left out (missing at random). A "
        "patient's weight multiplies the patient's whole log density, after rescaling within arm "
        "to the Kish effective sample size of the patients with a follow-up count. The "
        "natural-scale mean $M_{ad}$ is the log-normal mean averaged over the target population; $\\Delta_a$ "
        "is the change from the target population's observed mean baseline count to the last "
        "day (each arm's own baseline mean in the unadjusted analysis)."
    ),
    "recovery": (
        "Time to $\\mathrm{PLT} \\geq 100 \\times 10^9$/L within the horizon is analysed in person-period form (one row "
        "per patient and day at risk; right-censored at the horizon or at the last recorded "
        "count) with a discrete-time hazard and complementary log-log link. Each arm has its own "
        "baseline hazard over the days (independent across arms): a level $\\nu_a$, a line $\\delta_a$ "
        "in the standardised day $s_t$ and a low-rank second-order random walk ($Z$, $r$ components, "
        "scaled so that $\\sigma$ is the typical SD around the line; only $\\sigma$, the smoothness, is "
        "one parameter for all arms), non-centred. Hazards are therefore not forced to be "
        "proportional between arms; covariates act proportionally within arm. $\\exp(\\eta_a - \\eta_b)$ "
        "is a day-averaged hazard ratio conditional on the covariates, and the report checks how "
        "far it changes between the first and second half of the follow-up. Weights, rescaled "
        "within arm to the Kish effective sample size of the patients at risk on day 1, multiply "
        "each patient's log likelihood. Cumulative recovery $1 - S_a(t)$ and the restricted mean "
        "time to recovery (RMTR, days; a patient not recovered counts the whole horizon) are "
        "g-computation averages over the target population: the marginal contrasts (differences "
        "in the share recovered by day 7, day 14 and the horizon, those within it, and in RMTR) come "
        "from them. Intercurrent events: "
        "treatment policy for transfusion (part of the regimen as given; its timing is not "
        "recorded); death or loss before the end of follow-up censors at the last count, a "
        "hypothetical strategy for death (recovery had no patient died), not a competing-risks "
        "cumulative incidence."
    ),
    "safety": (
        "Each harm has a rate per arm with a Beta prior and a weighted binomial likelihood "
        "(weighted pseudo-counts $Y_{ea}$ and $N_{ea}$ of the patients with the event recorded, weights "
        "rescaled within arm, per event, to the Kish effective sample size); zero cells are "
        "ordinary data. Safety rates are adjusted by weighting alone (too few events for an "
        "outcome model with covariates); with unit weights the posterior is $\\mathrm{Beta}(a_0 + Y_{ea}, b_0 + N_{ea})$."
    ),
}

#: A plan with ``pool_arms = true`` (a sensitivity analysis) replaces the arm part of the model:
#: these words and equations are printed beneath the default model's.
POOLED_TEXT: dict[str, str] = {
    endpoint: (
        "In this run the plan pools the arms of this model (pool_arms = true), a sensitivity "
        "analysis: the arm effects are partially pooled toward a common level, with a between-arm "
        "SD $\\tau$ learned from the arms themselves (non-centred, $H$ the orthonormal zero-sum basis). "
        "The arms are then shrunk toward each other, more so the less data (or the smaller the "
        "Kish effective sample size) an arm has."
    )
    for endpoint in ("response", "plt", "recovery")
}
POOLED_EQUATIONS: dict[str, Equation] = {
    "response": Equation(
        r"\alpha_a = \mu + \tau (H z)_a,\ z \sim N(0, I_{K-1}),\ \mu \sim F(m_\alpha, s_\alpha),\ "
        r"\tau \sim \mathrm{HalfNormal}(s_\tau)",
        "alpha[a] = mu + tau (H z)[a], z ~ N(0, I), mu ~ F(m_alpha, s_alpha), "
        "tau ~ HalfNormal(s_tau)",
    ),
    "plt": Equation(
        r"\theta_{\cdot d} = m_d + \tau \bar s_d H z_{\cdot d},\ z_{\cdot d} \sim N(0, I_{K-1}),\ "
        r"m_d \sim N(c_\theta, s_\theta),\ \tau \sim \mathrm{HalfNormal}(s_\tau)",
        "theta[., d] = m[d] + tau mean_a(s[a,d]) H z[., d], z ~ N(0, I), "
        "m[d] ~ N(c_theta, s_theta), tau ~ HalfNormal(s_tau)",
    ),
    "recovery": Equation(
        r"\lambda_t = \lambda_0 + g_t,\ \eta = \tau H z,\ z \sim N(0, I_{K-1}),\ "
        r"\lambda_0 \sim N(m_\nu, s_\nu),\ \tau \sim \mathrm{HalfNormal}(s_\tau)",
        "lambda[t] = lambda0 + g[t], eta = tau H z, z ~ N(0, I), lambda0 ~ N(m_nu, s_nu), "
        "tau ~ HalfNormal(s_tau)",
    ),
}

#: A plan with ``proportional_hazards = true`` (a sensitivity analysis) replaces the recovery
#: model's per-arm shapes by one shared shape.
PROPORTIONAL_HAZARDS_TEXT = (
    "In this run the plan sets proportional_hazards = true, a sensitivity analysis: one "
    "baseline shape $g$ (a line $\\delta s$ plus $\\sigma Z u$) is shared by all arms, which differ only by "
    "their levels $\\nu_a$, so $\\exp(\\eta_a - \\eta_b)$ is a constant hazard ratio (conditional on the "
    "covariates)."
)
PROPORTIONAL_HAZARDS_EQUATION = Equation(
    r"\lambda_{at} = \nu_a + g_t,\quad g = \delta s + \sigma Z u,\ u \sim N(0, I_r)",
    "lambda[a,t] = nu[a] + g[t], g = delta s + sigma Z u, u ~ N(0, I_r)",
)

#: A plan with ``arm_slopes = true`` in ``[priors.plt]`` gives each arm its own covariate and
#: baseline slopes in the trajectory model.
ARM_SLOPES_TEXT = (
    "In this run the plan sets arm_slopes = true: each arm has its own covariate slopes "
    "$\\beta + \\xi_a$ and baseline slopes $\\gamma_d + \\zeta_{ad}$ (the average slope and a deviation "
    "that sums to zero over the arms, non-centred, $H$ the orthonormal zero-sum basis), so a "
    "covariate may change counts by a different factor under each regimen; the g-computation "
    "predicts every patient under each arm with that arm's slopes. Two arms' slopes differ by "
    "$N(0, 2 s_\\xi^2)$ a priori."
)
ARM_SLOPES_EQUATION = Equation(
    r"\mu_{id} = \theta_{a_i d} + (\gamma_d + \zeta_{a_i d}) b_i + x_i^\top(\beta + \xi_{a_i}),\quad "
    r"\xi = s_\xi H z,\ \zeta_{\cdot d} = s_\xi H z'_{\cdot d},\ z, z' \sim N(0, I)",
    "mu[i,d] = theta[a_i,d] + (gamma[d] + zeta[a_i,d]) b_i + x_i' (beta + xi[a_i]);  "
    "xi = s_xi H z, zeta[., d] = s_xi H z'[., d], z, z' ~ N(0, I)",
)

#: A plan with a grouping column (``[covariates] group``) adds a random intercept of the
#: patient's group to the linear predictor of the response, PLT and recovery models.
GROUP_TEXT = (
    "In this run the plan groups the patients by {group} ({n_groups} groups): the adjusted "
    "analyses' response, PLT and recovery models add to their linear predictor a random "
    "intercept $u_g$ of the patient's group, zero-sum over the groups and non-centred, with an SD "
    "$\\sigma_g$ learned from the groups (the groups, unlike the arms, are taken as exchangeable). "
    "The g-computation predicts every patient in their own group, so the marginal rates, means "
    "and curves remain those of the cohort's patients. The unadjusted analysis has no grouping."
)
GROUP_EQUATION = Equation(
    r"+\, u_{g_i},\quad u = \sigma_g z,\ z \sim \mathrm{ZeroSumNormal}(1),\ "
    r"\sigma_g \sim \mathrm{HalfNormal}(s_g)",
    "+ u[g_i];  u = sigma_g z, z ~ ZeroSumNormal(1), sigma_g ~ HalfNormal(s_g)",
)

_POOL = "pool_arms (false: independent arms; true: partially pooled, a sensitivity analysis)"
_GROUP_SD = (
    "$s_g$ (half-normal scale of the group SD $\\sigma_g$; used only with a grouping column)"
)
_ARM_SD = (
    "$s_\\tau$ (half-normal scale of the between-arm SD $\\tau$; used only with pool_arms; with "
    "arm_sd_fixed, $\\tau$ itself)"
)
_FIXED = (
    "arm_sd_fixed (true: $\\tau = s_\\tau$, not estimated: a sceptical prior on the differences)"
)

#: For each model, the symbol each field of its prior dataclass (the plan's ``[priors.*]``) sets
#: (``$...$`` marks mathematics: :func:`cit_bayes.report.document.prose`).
PRIOR_SYMBOLS: dict[str, dict[str, str]] = {
    "response": {
        "intercept_family": "$F$ (the family of $\\alpha_a$'s prior: logistic, whose (0, 1) is the "
        "uniform prior on the reference patient's rate, or normal)",
        "intercept_mean": "$m_\\alpha$ (location of each arm's intercept $\\alpha_a$; of $\\mu$ "
        "when pooled)",
        "intercept_sd": "$s_\\alpha$ (scale of $\\alpha_a$: the SD if normal; of $\\mu$ when pooled)",
        "arm_sd": _ARM_SD,
        "coefficient_sd": "$s_\\beta$ (SD of each covariate coefficient)",
        "group_sd": _GROUP_SD,
        "pool_arms": _POOL,
        "arm_sd_fixed": _FIXED,
    },
    "plt": {
        "day_mean_center": "$c_\\theta$ (mean of each arm-by-day level $\\theta_{ad}$, log scale)",
        "day_mean_sd": "$s_\\theta$ (SD of $\\theta_{ad}$; of the common level $m_d$ when pooled)",
        "arm_sd": _ARM_SD,
        "baseline_slope_sd": "$s_\\gamma$ (SD of each baseline slope $\\gamma_d$)",
        "coefficient_sd": "$s_\\beta$ (SD of each covariate coefficient)",
        "group_sd": _GROUP_SD,
        "residual_sd": "$s_s$ (half-normal scale of each within-patient SD $s_{ad}$, per arm and "
        "day)",
        "correlation_eta": "$\\eta$ (LKJ shape of the within-patient correlation $R$)",
        "slope_deviation_sd": "$s_\\xi$ (SD of each arm's deviation from the average covariate "
        "and baseline slopes; used only with arm_slopes)",
        "pool_arms": _POOL,
        "arm_sd_fixed": _FIXED,
        "arm_slopes": "arm_slopes (false: one slope per covariate for all arms; true: each arm "
        "its own slopes, $\\beta + \\xi_a$ and $\\gamma_d + \\zeta_{ad}$)",
    },
    "recovery": {
        "intercept_mean": "$m_\\nu$ (mean of each arm's log hazard $\\nu_a$ at the middle day)",
        "intercept_sd": "$s_\\nu$ (SD of $\\nu_a$; of the common $\\lambda_0$ when pooled)",
        "trend_sd": "$s_\\delta$ (SD of each arm's linear trend $\\delta_a$ per SD of the day)",
        "smooth_sd": "$s_\\sigma$ (half-normal scale of the smooth SD $\\sigma$)",
        "rank": "$r$ (number of smooth components)",
        "arm_sd": _ARM_SD,
        "coefficient_sd": "$s_\\beta$ (SD of each covariate coefficient)",
        "group_sd": _GROUP_SD,
        "pool_arms": _POOL + "; needs proportional_hazards",
        "proportional_hazards": (
            "false: each arm its own baseline shape; true: one shared shape, proportional "
            "hazards (a sensitivity analysis)"
        ),
    },
    "safety": {
        "a": "$a_0$ (first Beta shape)",
        "b": "$b_0$ (second Beta shape)",
    },
}
